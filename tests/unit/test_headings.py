from ingest.headings import HeadingTracker


def test_numbered_headings_build_a_path() -> None:
    tracker = HeadingTracker()
    assert tracker.numbered("4 Component requirements")
    assert tracker.numbered("4.2 Friction components")
    assert tracker.numbered("4.2.1 Pad wear sensor")
    assert tracker.section() == (
        "4 Component requirements",
        "4.2 Friction components",
        "4.2.1 Pad wear sensor",
    )
    assert tracker.numbered("5 Functional safety")
    assert tracker.section() == ("5 Functional safety",)


def test_table_rows_and_toc_lines_are_not_headings() -> None:
    tracker = HeadingTracker()
    assert tracker.numbered("3 Requirements")
    assert not tracker.numbered("4 Front caliper 120 18 2.5")  # a table row: several numbers
    assert not tracker.numbered("4 Introduction ........ 12")  # a table-of-contents line
    assert not tracker.numbered("4 Introduction 12")
    assert not tracker.numbered("9 Far jump")  # does not continue the numbering
    assert tracker.section() == ("3 Requirements",)


def test_appendix_headings_are_recognised() -> None:
    tracker = HeadingTracker()
    assert tracker.numbered("APPENDIX A GUIDANCE FOR THE SYSTEM SAFETY EFFORT")
    assert not HeadingTracker().numbered("Chapter 21, an implementation that does not require")


def test_wrapped_sentences_and_zero_padded_cells_are_not_headings() -> None:
    tracker = HeadingTracker()
    assert tracker.numbered("1. Flight preparation")
    assert not tracker.numbered("2. Precise pilot technique is", "essential for repeatable results.")
    assert not tracker.numbered("2. Precise pilot technique is")
    assert not tracker.numbered("2 Stall warning systems", "are checked before every flight")
    assert not HeadingTracker().numbered("01 D 64-bit double-precision")
    assert tracker.numbered("2 Stall warning systems", "The stick shaker fires at 1.07 Vs.")


def test_sentences_ending_in_a_full_stop_are_list_items() -> None:
    tracker = HeadingTracker()
    assert tracker.numbered("2 Spiral stability")
    assert not tracker.numbered(
        "3. The availability of an autopilot or automatic flight control system for relief."
    )
    assert tracker.numbered("3. Operational and maintenance considerations.")  # short: a heading
    assert tracker.numbered(
        "4 Relationship between Probability and Severity of Failure Conditions."
    )  # title case


def test_a_numbered_list_inside_a_subsection_does_not_end_the_section() -> None:
    tracker = HeadingTracker()
    assert tracker.numbered("5 Lateral-directional flying qualities")
    assert tracker.numbered("5.3 Flight test techniques")
    assert tracker.numbered("5.3.1 Spiral mode")
    for item in (
        "1. Stabilize and trim",
        "2. Restrain the lateral control",
        "3. Stall recovery",
        "4. Fuel quantity",
    ):
        assert not tracker.numbered(item)
    assert tracker.section()[-1] == "5.3.1 Spiral mode"
    assert tracker.numbered("5.3.2 MEASUREMENT OF THE DUTCH ROLL MODE")
    assert tracker.section() == (
        "5 Lateral-directional flying qualities",
        "5.3 Flight test techniques",
        "5.3.2 MEASUREMENT OF THE DUTCH ROLL MODE",
    )


def test_a_restart_at_one_whose_child_follows_was_a_heading() -> None:
    tracker = HeadingTracker()
    assert tracker.numbered("2.1 Cover page item")  # a false start on a title page
    assert not tracker.numbered("1 Introduction")
    assert tracker.numbered("1.1 Scope")
    assert tracker.section() == ("1 Introduction", "1.1 Scope")


def test_a_capitalised_restart_is_a_heading() -> None:
    tracker = HeadingTracker()
    assert tracker.numbered("1.1 Changed")
    assert tracker.numbered("1. SCOPE")
    assert tracker.section() == ("1. SCOPE",)
