package loadtest

import (
	"context"
	"errors"
	"time"
)

// maxDialAttempts bounds the tries of one connection the server keeps asking to be retried
// (429/503 with Retry-After).
const maxDialAttempts = 20

// retrying calls try until it succeeds, fails in a way the server did not ask to be
// retried, or has been tried attempts times, waiting the server's Retry-After between
// tries. refused (nil: none) sees each refusal, so a run can count them. Every connection
// the load generator makes goes through here: a polite client honours Retry-After, and
// counting those refusals as failures would measure the server's limiter, not its capacity.
func retrying[T any](ctx context.Context, attempts int, try func(context.Context) (T, error), refused func(*retryError)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := try(ctx)
		var retry *retryError
		if err == nil || !errors.As(err, &retry) {
			return v, err
		}
		if refused != nil {
			refused(retry)
		}
		if attempt >= attempts {
			return v, err
		}
		t := time.NewTimer(retry.after)
		select {
		case <-ctx.Done():
			t.Stop()
			return v, err
		case <-t.C:
		}
	}
}
