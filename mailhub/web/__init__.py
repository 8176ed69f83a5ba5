"""The web side: server-rendered pages over the same domain functions the CLI uses."""
