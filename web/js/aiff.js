// AIFF / AIFF-C decoding on the page. Chromium's decodeAudioData does not read AIFF (Safari's
// does), so AIFF is decoded here, exactly, at its own rate: integer PCM (8, 16, 24 or 32 bit,
// big-endian "NONE"/"twos" or little-endian "sowt") scaled by 1 / 2^(bits - 1), and IEEE float
// ("fl32", "fl64"). Compressed AIFF-C codecs (ulaw, alaw, ima4...) are refused.

export class AiffError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "AiffError";
    this.code = code;
  }
}

const ascii = (bytes, at, n) => String.fromCharCode(...bytes.subarray(at, at + n));

function extendedToNumber(view, at) {
  const exponent = (view.getUint16(at) & 0x7fff) - 16383;
  const hi = view.getUint32(at + 2);
  const lo = view.getUint32(at + 6);
  return hi * 2 ** (exponent - 31) + lo * 2 ** (exponent - 63);
}

// Returns {rateHz, channels: Float32Array[]} for the bytes of an AIFF or AIFF-C file.
export function decodeAiff(buffer, name) {
  const bytes = new Uint8Array(buffer);
  const view = new DataView(buffer);
  const isAifc = ascii(bytes, 8, 4) === "AIFC";
  let comm = null;
  let soundAt = null;
  let soundBytes = 0;
  for (let at = 12; at + 8 <= bytes.length; ) {
    const id = ascii(bytes, at, 4);
    const size = view.getUint32(at + 4);
    const body = at + 8;
    if (id === "COMM" && body + 18 <= bytes.length) {
      comm = {
        channels: view.getUint16(body),
        frames: view.getUint32(body + 2),
        bits: view.getUint16(body + 6),
        rateHz: Math.round(extendedToNumber(view, body + 8)),
        compression: isAifc && body + 22 <= bytes.length ? ascii(bytes, body + 18, 4) : "NONE",
      };
    } else if (id === "SSND" && body + 8 <= bytes.length) {
      soundAt = body + 8 + view.getUint32(body); // skip offset and blockSize
      soundBytes = Math.min(size - 8, bytes.length - soundAt);
    }
    at = body + size + (size % 2);
  }
  if (comm === null || soundAt === null) {
    throw new AiffError("aiff_truncated", `“${name}” is an incomplete AIFF file (no COMM or SSND chunk).`);
  }
  const { channels, bits, rateHz, compression } = comm;
  let read;
  let width;
  const c = compression.toLowerCase();
  if (c === "none" || c === "twos" || c === "sowt") {
    if (![8, 16, 24, 32].includes(bits)) {
      throw new AiffError("unsupported_bits", `“${name}” uses ${bits}-bit samples; AIFF with 8, 16, 24 or 32 bits is accepted.`);
    }
    const little = c === "sowt";
    const scale = 1 / 2 ** (bits - 1);
    width = bits / 8;
    read = {
      8: (at) => view.getInt8(at) * scale,
      16: (at) => view.getInt16(at, little) * scale,
      24: little
        ? (at) => ((bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 24 >> 8))) * scale
        : (at) => (((bytes[at] << 24) >> 8) | (bytes[at + 1] << 8) | bytes[at + 2]) * scale,
      32: (at) => view.getInt32(at, little) * scale,
    }[bits];
  } else if (c === "fl32") {
    width = 4;
    read = (at) => view.getFloat32(at);
  } else if (c === "fl64") {
    width = 8;
    read = (at) => view.getFloat64(at);
  } else {
    throw new AiffError(
      "unsupported_codec",
      `“${name}” is compressed AIFF-C (${compression.trim()}); uncompressed AIFF or WAV is accepted.`,
    );
  }
  if (channels < 1 || channels > 8) {
    throw new AiffError("bad_layout", `“${name}” has ${channels} channels; 1 to 8 are accepted.`);
  }
  const frames = Math.min(comm.frames, Math.floor(soundBytes / (width * channels)));
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  const stride = width * channels;
  for (let f = 0, at = soundAt; f < frames; f++, at += stride) {
    for (let ch = 0; ch < channels; ch++) out[ch][f] = read(at + ch * width);
  }
  return { rateHz, channels: out };
}
