"""Pipeline stages: landing -> raw (restricted) -> pseudonymised -> gated -> features -> published."""
