"""The page shell every app's browser pages share: the base templates, the stylesheet, and the
WebSocket client (centrifuge-js wiring) with the config each live page hands to it."""
