"""The live pipeline: recording chat events and who may subscribe (`recording`), and publishing
them to Centrifugo (`delivery`, driven by core.delivery)."""
