// Reading a dropped file into what the engine takes, on this device only.
//
// - The format is recognised from the file's first bytes (its "magic"), not from its name.
// - WAV (RIFF/RF64/BW64) goes to the engine as raw bytes and is parsed in Python, keeping its
//   own sample rate and bit depth.
// - AIFF is decoded exactly, at its own rate and depth, by js/aiff.js: Chromium's WebAudio does
//   not read AIFF.
// - FLAC, MP3, OGG and M4A are decoded by WebAudio. decodeAudioData resamples to its
//   context's rate, so the file's own rate is read from its header first (FLAC
//   STREAMINFO, the first MP3 frame, the Vorbis/Opus identification header, the M4A sample
//   entry) and the decoding context runs at exactly that rate. Opus always decodes at 48 kHz.
//   Where no rate can be read, 48 kHz is used.
// - Limits (from the engine's `describe`, the single source) are checked before anything is
//   read: the file's byte size, and for FLAC and AIFF the sample count in their header.

import { decodeAiff } from "./aiff.js";

export class AudioFileError extends Error {
  constructor(code, message) {
    super(message);
    this.name = "AudioFileError";
    this.code = code;
  }
}

export const ACCEPTED = "WAV, AIFF, FLAC, MP3, OGG or M4A";
const FALLBACK_RATE_HZ = 48000;
const LOSSY = new Set(["mp3", "ogg", "m4a", "aac"]);

const ascii = (bytes, at, n) => String.fromCharCode(...bytes.subarray(at, at + n));

// The container, from the first bytes: "wav", "aiff", "flac", "mp3", "aac", "ogg", "m4a" or null.
export function sniffFormat(bytes) {
  if (bytes.length < 12) return null;
  const head = ascii(bytes, 0, 4);
  if (["RIFF", "RF64", "BW64"].includes(head) && ascii(bytes, 8, 4) === "WAVE") return "wav";
  if (head === "FORM" && ["AIFF", "AIFC"].includes(ascii(bytes, 8, 4))) return "aiff";
  if (head === "fLaC") return "flac";
  if (head === "OggS") return "ogg";
  if (ascii(bytes, 4, 4) === "ftyp") return "m4a";
  if (ascii(bytes, 0, 3) === "ID3") return "mp3";
  if (bytes[0] === 0xff && (bytes[1] & 0xf6) === 0xf0) return "aac"; // ADTS sync, layer 0
  if (bytes[0] === 0xff && (bytes[1] & 0xe0) === 0xe0 && (bytes[1] & 0x06) !== 0) return "mp3";
  return null;
}

function readUint32BE(bytes, at) {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

function readUint32LE(bytes, at) {
  return (bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)) >>> 0;
}

// WAV (RIFF/RF64/BW64): "fmt " gives channels, rate and block size; "data" (or RF64's "ds64")
// the data size. Only the header is needed; the samples themselves are parsed in Python.
function wavInfo(bytes, fileSize) {
  let channels = null;
  let rateHz = null;
  let blockAlign = null;
  let ds64DataBytes = null;
  let at = 12;
  while (at + 8 <= bytes.length) {
    const id = ascii(bytes, at, 4);
    const size = readUint32LE(bytes, at + 4);
    if (id === "fmt " && at + 22 <= bytes.length) {
      channels = bytes[at + 10] | (bytes[at + 11] << 8);
      rateHz = readUint32LE(bytes, at + 12);
      blockAlign = bytes[at + 20] | (bytes[at + 21] << 8);
    } else if (id === "ds64" && at + 24 <= bytes.length) {
      ds64DataBytes = readUint32LE(bytes, at + 16) + readUint32LE(bytes, at + 20) * 2 ** 32;
    } else if (id === "data") {
      const declared = size === 0xffffffff && ds64DataBytes !== null ? ds64DataBytes : size;
      const dataBytes = Math.min(declared, fileSize - (at + 8));
      if (!channels || !blockAlign) break;
      return { rateHz, channels, channelSamples: channels * Math.floor(dataBytes / blockAlign) };
    }
    at += 8 + size + (size % 2);
  }
  return { rateHz, channels, channelSamples: null };
}

// AIFF's COMM chunk: channels, frames and an 80-bit IEEE extended sample rate.
function aiffInfo(bytes) {
  let at = 12;
  while (at + 8 <= bytes.length) {
    const id = ascii(bytes, at, 4);
    const size = readUint32BE(bytes, at + 4);
    if (id === "COMM" && at + 26 <= bytes.length) {
      const c = at + 8;
      const channels = (bytes[c] << 8) | bytes[c + 1];
      const frames = readUint32BE(bytes, c + 2);
      const exponent = (((bytes[c + 8] & 0x7f) << 8) | bytes[c + 9]) - 16383;
      const hi = readUint32BE(bytes, c + 10);
      const lo = readUint32BE(bytes, c + 14);
      const rateHz = Math.round(hi * 2 ** (exponent - 31) + lo * 2 ** (exponent - 63));
      return { rateHz, channels, channelSamples: channels * frames };
    }
    at += 8 + size + (size % 2);
  }
  return { rateHz: null, channels: null, channelSamples: null };
}

// FLAC STREAMINFO (the first metadata block): 20-bit rate, 3-bit channels-1, 36-bit frames.
function flacInfo(bytes) {
  if (bytes.length < 26) return { rateHz: null, channels: null, channelSamples: null };
  const rateHz = (bytes[18] << 12) | (bytes[19] << 4) | (bytes[20] >> 4);
  const channels = ((bytes[20] >> 1) & 0x07) + 1;
  const frames = (bytes[21] & 0x0f) * 2 ** 32 + readUint32BE(bytes, 22);
  return { rateHz: rateHz || null, channels, channelSamples: frames ? channels * frames : null };
}

const MP3_RATES_HZ = { 3: [44100, 48000, 32000], 2: [22050, 24000, 16000], 0: [11025, 12000, 8000] };
const AAC_RATES_HZ = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

// The first MPEG audio frame header after any ID3v2 tag.
function mp3Rate(bytes) {
  let at = 0;
  if (ascii(bytes, 0, 3) === "ID3") {
    const size = (bytes[6] << 21) | (bytes[7] << 14) | (bytes[8] << 7) | bytes[9];
    at = 10 + size + (bytes[5] & 0x10 ? 10 : 0);
  }
  for (const end = Math.min(bytes.length - 4, at + 65536); at < end; at++) {
    if (bytes[at] === 0xff && (bytes[at + 1] & 0xe0) === 0xe0) {
      const version = (bytes[at + 1] >> 3) & 0x03;
      const index = (bytes[at + 2] >> 2) & 0x03;
      if (version !== 1 && index !== 3 && (bytes[at + 1] & 0x06) !== 0) {
        return MP3_RATES_HZ[version][index];
      }
    }
  }
  return null;
}

function aacRate(bytes) {
  return AAC_RATES_HZ[(bytes[2] >> 2) & 0x0f] ?? null;
}

// The first Ogg page carries the codec's identification header.
function oggRate(bytes) {
  const segments = bytes[26];
  const packet = 27 + segments;
  if (ascii(bytes, packet, 8) === "OpusHead") return 48000;
  if (ascii(bytes, packet + 1, 6) === "vorbis") {
    const r = packet + 12;
    return (bytes[r] | (bytes[r + 1] << 8) | (bytes[r + 2] << 16) | (bytes[r + 3] << 24)) >>> 0;
  }
  if (ascii(bytes, packet + 1, 4) === "FLAC") return flacInfo(bytes.subarray(packet + 9)).rateHz;
  return null;
}

// The M4A sample entry ("mp4a" or "alac"): a 16.16 fixed-point rate 28 bytes after its type.
function m4aRate(bytes) {
  for (let at = 8; at + 32 < bytes.length; at++) {
    const type = bytes[at] === 0x6d || bytes[at] === 0x61 ? ascii(bytes, at, 4) : "";
    if (type === "mp4a" || type === "alac") {
      const channels = (bytes[at + 20] << 8) | bytes[at + 21];
      const rateHz = (bytes[at + 28] << 8) | bytes[at + 29];
      if (channels >= 1 && channels <= 8 && rateHz >= 8000) return rateHz;
    }
  }
  return null;
}

export function headerInfo(bytes, format, fileSize = bytes.length) {
  const rateOnly = (rateHz) => ({ rateHz, channels: null, channelSamples: null });
  switch (format) {
    case "wav":
      return wavInfo(bytes, fileSize);
    case "aiff":
      return aiffInfo(bytes);
    case "flac":
      return flacInfo(bytes);
    case "mp3":
      return rateOnly(mp3Rate(bytes));
    case "aac":
      return rateOnly(aacRate(bytes));
    case "ogg":
      return rateOnly(oggRate(bytes));
    case "m4a":
      return rateOnly(m4aRate(bytes));
    default:
      return rateOnly(null);
  }
}

const megabytes = (n) => `${Math.round(n / 2 ** 20)} MB`;

function tooLong(file, info, limits) {
  const minutes = info.rateHz && info.channels ? info.channelSamples / info.channels / info.rateHz / 60 : null;
  const length = minutes === null ? "too long" : `${minutes.toFixed(1)} minutes long`;
  return new AudioFileError(
    "too_long",
    `“${file.name}” is ${length}; the browser can master ${limits.summary}.`,
  );
}

const HEADER_BYTES = 65536;

function tooLarge(file, limitBytes, what) {
  return new AudioFileError(
    "file_too_large",
    `“${file.name}” is ${megabytes(file.size)}; ${what} files up to ${megabytes(limitBytes)} ` +
      "can be mastered in the browser.",
  );
}

// Read and check a File; resolve with what the engine's `analyze` takes plus the transfer list.
// `limits` comes from the engine: {max_file_bytes, max_lossy_file_bytes, max_channel_samples}.
export async function readAudioFile(file, limits) {
  if (file.size === 0) {
    throw new AudioFileError("empty_file", `“${file.name}” is empty.`);
  }
  if (file.size > limits.max_file_bytes) throw tooLarge(file, limits.max_file_bytes, "audio");
  const head = new Uint8Array(await file.slice(0, HEADER_BYTES).arrayBuffer());
  const format = sniffFormat(head);
  if (format === null) {
    throw new AudioFileError(
      "not_audio",
      `“${file.name}” is not an audio file this app can read: it does not start like a ` +
        `${ACCEPTED} file.`,
    );
  }
  if (LOSSY.has(format) && file.size > limits.max_lossy_file_bytes) {
    throw tooLarge(file, limits.max_lossy_file_bytes, "compressed");
  }
  if (format === "wav") {
    const info = headerInfo(head, format, file.size);
    if (info.channelSamples !== null && info.channelSamples > limits.max_channel_samples) {
      throw tooLong(file, info, limits);
    }
    const buffer = await file.arrayBuffer();
    return { format, args: { wav: buffer }, transfer: [buffer] };
  }
  const buffer = await file.arrayBuffer();
  const bytes = new Uint8Array(buffer);
  const info = headerInfo(bytes, format, file.size);
  if (info.channelSamples !== null && info.channelSamples > limits.max_channel_samples) {
    throw tooLong(file, info, limits);
  }
  if (format === "aiff") {
    const aiff = decodeAiff(buffer, file.name);
    return {
      format,
      args: { channels: aiff.channels, sample_rate_hz: aiff.rateHz },
      transfer: aiff.channels.map((c) => c.buffer),
    };
  }
  const rateHz = info.rateHz ?? FALLBACK_RATE_HZ;
  const channels = await decode(buffer, rateHz, file.name, format);
  return {
    format,
    args: { channels, sample_rate_hz: rateHz },
    transfer: channels.map((c) => c.buffer),
  };
}

async function decode(buffer, rateHz, name, format) {
  let audio;
  try {
    const context = new OfflineAudioContext({ numberOfChannels: 1, length: 1, sampleRate: rateHz });
    audio = await context.decodeAudioData(buffer);
  } catch {
    throw new AudioFileError(
      "decode_failed",
      `This browser could not decode “${name}” (${format.toUpperCase()}). ` +
        "Try exporting it as WAV.",
    );
  }
  const channels = [];
  for (let c = 0; c < audio.numberOfChannels; c++) {
    const samples = new Float32Array(audio.length);
    audio.copyFromChannel(samples, c);
    channels.push(samples);
  }
  return channels;
}
