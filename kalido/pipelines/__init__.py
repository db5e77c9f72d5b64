"""Pipeline stages: landing -> raw (restricted) -> pseudonymised -> gated -> published."""
