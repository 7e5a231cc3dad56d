"""The lab: real processes (Redis, Asterisk, SIP peers) started for tests and demos."""
