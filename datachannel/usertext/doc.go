// Package usertext is the one text policy for strings a client sends that other people
// see: chat messages, Q&A, poll questions and options, gift names and messages, alert
// text, lot titles, display names. It refuses, never repairs: a message is accepted as
// sent or answered with an error, so nobody reads something its author did not write.
package usertext
