"""Accounts: what a user consented to. Whether their email address is confirmed, who may add
them to a chat, and whether they take any email at all (docs/consent.md)."""
