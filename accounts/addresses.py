"""One mailbox, however its address is spelled: the canonical form the email caps count by.

`Victim+1@Example.COM`, `victim+2@example.com` and `victim@example.com` reach one inbox, so they
share one cap (docs/consent.md). The form: the domain lower-cased (DNS is case-insensitive); the
local part lower-cased too (RFC 5321 lets a server tell case apart; no mainstream one does, and
counting two spellings as one inbox errs on the side of fewer emails); a `+tag` dropped (the
subaddress convention of Gmail, Outlook, Fastmail, iCloud and Postfix); and for Gmail, whose
addresses ignore dots, the dots dropped and googlemail.com read as gmail.com.
"""

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


def canonical(address: str) -> str:
    """The mailbox `address` reaches, as one string; an address without `@` only lower-cased."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at:
        return domain
    local = local.split("+", 1)[0]
    if domain in GMAIL_DOMAINS:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"
