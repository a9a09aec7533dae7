import pytest

from accounts.addresses import canonical


@pytest.mark.parametrize(
    ("address", "mailbox"),
    [
        ("vic@example.com", "vic@example.com"),
        ("Vic@Example.COM", "vic@example.com"),
        ("vic+1@example.com", "vic@example.com"),
        ("vic+news+more@example.com", "vic@example.com"),
        ("  vic@example.com ", "vic@example.com"),
        ("v.i.c+x@googlemail.com", "vic@gmail.com"),
        ("V.ic@GMail.com", "vic@gmail.com"),
        ("v.ic@example.com", "v.ic@example.com"),  # dots matter outside Gmail
        ('"a@b"@example.com', '"a@b"@example.com'),  # the last @ splits
        ("no-at-sign", "no-at-sign"),
    ],
)
def test_one_mailbox_however_spelt(address: str, mailbox: str) -> None:
    assert canonical(address) == mailbox
