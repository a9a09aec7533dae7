"""The admin-email pipeline: recording (`recording`), the per-inbox cap and its digest (`digest`),
sending (`delivery`, driven by core.delivery), one-click unsubscribe and the email pages."""
