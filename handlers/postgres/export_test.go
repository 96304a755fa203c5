package postgres

import (
	"github.com/omninode/omnibase-infra/events"

	"github.com/jackc/pgx/v5/pgxpool"
)

// The pure parts, for the tests of package postgres_test.
var (
	ConvertArgs      = convertArgs
	Transient        = transient
	JSONValue        = jsonValue
	EffectiveMaxRows = effectiveMaxRows
)

// Collect runs the result caps over rows of the given columns, as a query would.
func Collect(columns []string, oids []uint32, maxRows int64, maxBytes int, rows [][]any, raw [][][]byte) (*events.PostgresQueryResult, error) {
	c, err := newCollector(columns, oids, maxRows, maxBytes)
	if err != nil {
		return nil, err
	}
	for i, r := range rows {
		var rr [][]byte
		if raw != nil {
			rr = raw[i]
		}
		if err := c.add(r, rr); err != nil {
			return nil, err
		}
	}
	return &c.result, nil
}

// PoolConfig is the pool configuration of t under cfg, its defaults set.
func PoolConfig(cfg Config, t Target) (*pgxpool.Config, error) {
	cfg.setDefaults()
	return cfg.poolConfig(t)
}
