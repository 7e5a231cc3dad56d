"""The benchmark: hotline's call path against Asterisk's own, on one Asterisk, in one run.

``python -m bench`` (or ``./bench/run``) starts a lab named "bench" and drives the same
SIPp load through three numbers of that one Asterisk:

* (a) hotline: the IVR over FastAGI, the Redis queue, AMI delivery to the desks;
* (b) native: the same menu in dialplan (Background/WaitExten), then app_queue with the
  same desks as static members;
* (c) bare: Answer, Wait, Hangup — what this machine's Asterisk and SIPp can do at all.

It reports the highest call rate with no failed call, the key-press → desk-INVITE delay,
how many callers can be held with music, the claim script against a trivial EVAL, and the
FastAGI round trip, as Markdown, JSON and a PNG plot. See BENCHMARKS.md.
"""
