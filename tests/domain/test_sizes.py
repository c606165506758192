from addax.domain.sizes import size_text


def test_sizes_read_in_decimal_units() -> None:
    assert [size_text(n) for n in (0, 999, 1000, 1_500_000, 2.5e9, 7.25e12, 3e15)] == [
        "0 B",
        "999 B",
        "1.0 KB",
        "1.5 MB",
        "2.5 GB",
        "7.2 TB",
        "3000.0 TB",
    ]
