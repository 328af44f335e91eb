//! The bus's pure parts: numbering with drops (FC-48), the envelope of a local message, what the
//! tracker's verdicts do to the counters.
