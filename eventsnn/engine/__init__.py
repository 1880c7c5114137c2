"""The jitted engine: event queue, random streams and the event loop."""
