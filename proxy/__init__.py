"""MixMasterAI's web proxy: serves the site and decides mastering parameters.

``create_app`` builds the Starlette app (``uvicorn --factory mixmaster_proxy.app:create_app``);
``serve`` runs it. The proxy only ever sees a small JSON of features, never audio.
"""
