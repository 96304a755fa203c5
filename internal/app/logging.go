package app

import (
	"context"
	"errors"
	"log/slog"

	"github.com/ThreeDotsLabs/watermill"
)

// WatermillLogger is the logger the process hands Watermill: its lifecycle chatter (handlers
// added, subscribers started and stopped — some forty lines at every start and stop) is at debug
// rather than info, and an error that only says the process is stopping (a context canceled)
// is at debug rather than error, so a clean stop logs no ERROR. Watermill's warnings and other
// errors keep their level.
func WatermillLogger(logger *slog.Logger) watermill.LoggerAdapter {
	return quietWatermill{watermill.NewSlogLoggerWithLevelMapping(logger, map[slog.Level]slog.Level{
		slog.LevelInfo: slog.LevelDebug,
	})}
}

type quietWatermill struct{ watermill.LoggerAdapter }

func (q quietWatermill) Error(msg string, err error, fields watermill.LogFields) {
	if errors.Is(err, context.Canceled) {
		q.LoggerAdapter.Debug(msg, fields.Add(watermill.LogFields{"error": err}))
		return
	}
	q.LoggerAdapter.Error(msg, err, fields)
}

func (q quietWatermill) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return quietWatermill{q.LoggerAdapter.With(fields)}
}
