from assistant.tokenize import tokenize


def test_engineering_identifiers_stay_whole() -> None:
    for identifier, token in [
        ("MIL-STD-882E", "mil-std-882e"),
        ("CLOSE-WAIT", "close-wait"),
        ("25.1309", "25.1309"),
        ("±0.05", "±0.05"),
        ("C1A27-54", "c1a27-54"),
        ("0x19", "0x19"),
        ("mtvec", "mtvec"),
        ("CSR-TEL-014", "csr-tel-014"),
    ]:
        assert token in tokenize(f"see {identifier} here"), identifier


def test_identifier_parts_are_also_indexed() -> None:
    tokens = tokenize("AC 25.1309-1B")
    assert {"25.1309-1b", "25.1309", "1b"} <= set(tokens)
    assert {"mil", "std", "882e"} <= set(tokenize("MIL-STD-882E"))


def test_decimal_numbers_are_not_split_into_digits() -> None:
    tokens = tokenize("tolerance 25.1309")
    assert "25.1309" in tokens and "25" not in tokens and "1309" not in tokens


def test_words_are_stemmed_and_stopwords_dropped() -> None:
    assert tokenize("The brakes are braking") == ["brake", "brake"]


def test_unicode_is_normalised() -> None:
    assert tokenize("ﬁle") == tokenize("file")
