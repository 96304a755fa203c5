package bus

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// scramClient is Sarama's SCRAMClient on franz-go's SCRAM (RFC 5802, as Kafka speaks it): Sarama
// ships the conversation's framing but no SCRAM of its own, and franz-go's is already the relay's.
type scramClient struct {
	sha512  bool
	first   []byte // the client-first message, sent by the first Step
	started bool
	session sasl.Session
	done    bool
}

// Begin starts a conversation as user.
func (c *scramClient) Begin(user, password, authzID string) error {
	auth := scram.Auth{User: user, Pass: password, Zid: authzID}
	mech := auth.AsSha256Mechanism()
	if c.sha512 {
		mech = auth.AsSha512Mechanism()
	}
	// Sarama's SCRAMClient takes no context; franz-go's mechanism hands it only to its auth
	// function, which here returns the constant auth above.
	session, first, err := mech.Authenticate(context.Background(), "")
	if err != nil {
		return err
	}
	c.session, c.first, c.started, c.done = session, first, false, false
	return nil
}

// Step answers the server's challenge: the first call (challenge "") returns the client-first
// message, the next the client-final, and the last checks the server's signature.
func (c *scramClient) Step(challenge string) (string, error) {
	if c.session == nil {
		return "", errors.New("SCRAM conversation not begun")
	}
	if !c.started {
		c.started = true
		return string(c.first), nil
	}
	done, resp, err := c.session.Challenge([]byte(challenge))
	if err != nil {
		return "", err
	}
	c.done = done
	return string(resp), nil
}

// Done reports whether the server's signature has been checked.
func (c *scramClient) Done() bool { return c.done }
