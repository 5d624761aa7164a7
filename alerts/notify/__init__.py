"""Escalation and notices: who is told what about a case, through which channel.

`escalation` decides (the chain in config/escalation.yaml, stepping up on a
clock near or past due, and at once for severity I/II); it writes an
`EscalationRow` and one `NoticeRow` per recipient in the caller's
transaction (an outbox). `dispatch` delivers pending notices through the
channels of config/channels.yaml (`channels/`, one class per file) and
records each attempt. A notice's link carries a token; opening it records
when the notice was read.
"""
