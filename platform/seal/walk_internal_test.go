package seal

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func upper(path string, raw json.RawMessage) (json.RawMessage, error) {
	return json.RawMessage(`"` + path + `:` + strings.ReplaceAll(strings.ToUpper(string(raw)), `"`, `'`) + `"`), nil
}

func TestWalkReplacesExactlyTheDeclaredValues(t *testing.T) {
	cases := map[string]struct {
		in, want string
		paths    []string
	}{
		"top_level": {`{"sql":"SELECT '{\"args\":1}'", "args" : ["a",{"b":"}"}] ,"z":1}`,
			`{"sql":"SELECT '{\"args\":1}'", "args" : "args:['A',{'B':'}'}]" ,"z":1}`, []string{"args"}},
		"each_element": {`{"statements":[{"sql":"x","args":[1]},{"sql":"y"},{"args":null},{"args":["\"]"]}]}`,
			`{"statements":[{"sql":"x","args":"statements[0].args:[1]"},{"sql":"y"},{"args":null},{"args":"statements[3].args:['\']']"}]}`,
			[]string{"statements[].args"}},
		"absent_and_null": {`{"value":null}`, `{"value":null}`, []string{"value", "payload"}},
		"two_paths":       {`{"payload":"p","headers":{"h":"v"}}`, `{"payload":"payload:'P'","headers":"headers:{'H':'V'}"}`, []string{"payload", "headers"}},
		"empty_array":     {`{"statements":[]}`, `{"statements":[]}`, []string{"statements[].args"}},
		"escaped_key":     {`{"\u0061rgs":[2]}`, `{"\u0061rgs":"args:[2]"}`, []string{"args"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := walk([]byte(c.in), c.paths, upper)
			require.NoError(t, err)
			require.Equal(t, c.want, string(got))
		})
	}
}

func TestWalkRefusesWhatIsNotItsShapeWithoutPanicking(t *testing.T) {
	for _, in := range []string{``, `[]`, `"x"`, `{"target":`, `{"args"`, `{"args":`, `{"args":[1,2`, `{"args":"unterminated`,
		`{"statements":{"args":1}}`, `{"statements":[1]}`, `{"a":1 "args":2`, `{"args":]}`} {
		_, err := walk([]byte(in), []string{"args", "statements[].args"}, upper)
		require.ErrorIs(t, err, errShape, "%q", in)
	}
}
