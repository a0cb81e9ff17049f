"""The example questions an empty chat offers (kept free of Streamlit so tests can ask them)."""

from __future__ import annotations

# Example questions for an empty chat (from samples/questions.jsonl), shown when their document is readable.
EXAMPLES = (
    (
        "How must a technician confirm that the high-voltage system is really dead before working on it?",
        "aftersales/hv-workshop-safety-procedure.html",
    ),
    (
        "Which DTC does the brake module store when new pads were fitted but the wear counter was not reset?",
        "brakes/brake-system-design-spec.pdf",
    ),
    (
        "What maximum cell temperature was reached in the TC-09 re-test with BMS software 4.2.0?",
        "battery/battery-thermal-test-report.pdf",
    ),
    (
        "How does the telematics unit protect against an attacker replaying a previously recorded remote "
        "command?",
        "security/tcu-cybersecurity-requirements.pdf",
    ),
    (
        "What torque and thread-locker are specified for the front caliper carrier bolts of the Kestrel "
        "KV-4?",
        "chassis/kestrel-kv4-torque-specifications.pdf",
    ),
    (
        "Why do some Tamsin TC-2 park brakes fail to release after a cold night?",
        "aftersales/sb-tc2-24-031-epb-cold-release.html",
    ),
)
