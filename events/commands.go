package events

// ProbeTarget asks an adapter to probe one of its targets now and record the outcome.
type ProbeTarget struct {
	Adapter string `json:"adapter"`
	Target  string `json:"target"`
}

func (ProbeTarget) Kind() Kind    { return Kind{Name: "probe_target", Version: 1} }
func (c ProbeTarget) Key() string { return AdapterID(c.Adapter, c.Target) }
func (c ProbeTarget) Validate() error {
	var f fields
	f.oneOf("adapter", c.Adapter, adapterNames...)
	f.text("target", c.Target)
	return f.err()
}
