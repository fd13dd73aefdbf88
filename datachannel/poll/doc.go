// Package poll is the rules of a live poll as a pure state machine: a host opens it with
// options and a deadline, each identity holds one vote it may change until the poll
// closes, and the tally is always the count of current votes. No I/O and no clocks: the
// caller passes the time in. How often tallies are broadcast is the caller's concern.
package poll
