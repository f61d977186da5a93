"""InboundMessage → Complaint: cleanup, parsing, classification, dedupe."""
