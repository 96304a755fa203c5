package console

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"
)

//go:embed assets/*.html assets/*.css assets/*.js
var assets embed.FS

func parsePages() (*template.Template, error) {
	t, err := template.New("console").Funcs(template.FuncMap{
		"ts": func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return t.UTC().Format("2006-01-02 15:04:05.000Z")
		},
		"ago": func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return time.Since(t).Round(time.Second).String() + " ago"
		},
		"tsp": func(t *time.Time) string {
			if t == nil {
				return "-"
			}
			return t.UTC().Format("2006-01-02 15:04:05.000Z")
		},
		"lower": strings.ToLower,
		"short": func(s string) string {
			if len(s) > 8 {
				return s[:8]
			}
			return s
		},
		"seconds": func(f float64) string { return fmt.Sprintf("%.1f s", f) },
		"list":    func(s ...string) []string { return s },
		// dict2 passes the page and one value (an id) to a sub-template.
		"dict2": func(p page, id any) pageAnd { return pageAnd{Page: p, ID: id} },
	}).ParseFS(assets, "assets/*.html")
	if err != nil {
		return nil, fmt.Errorf("console: could not parse its pages: %w", err)
	}
	return t, nil
}

// page is what the layout renders around a page's content.
type page struct {
	Title    string
	Name     string
	Viewer   viewer
	TraceURL string
	Flash    string
	Data     any
}

// pageAnd is a page and one value, for the sub-templates that need both.
type pageAnd struct {
	Page page
	ID   any
}

// TraceLink is the link of trace id, "" when tracing links are off or the event has no trace.
func (p page) TraceLink(id any) string {
	s, _ := id.(string)
	if p.TraceURL == "" || s == "" {
		return ""
	}
	return strings.ReplaceAll(p.TraceURL, "{trace_id}", url.PathEscape(s))
}

// render writes page name inside the layout.
func (c *Console) render(w http.ResponseWriter, r *http.Request, v viewer, name, title string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// Nothing is fetched from anywhere but the console itself.
	w.Header().Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
	p := page{Title: title, Name: name, Viewer: v, TraceURL: c.cfg.TraceURL, Flash: r.URL.Query().Get("flash"), Data: data}
	if err := c.pages.ExecuteTemplate(w, "layout", p); err != nil {
		c.logger.ErrorContext(r.Context(), "could not render a console page", "page", name, "error", err)
	}
}

// static serves the embedded stylesheet and script.
func static() http.Handler {
	sub, _ := fs.Sub(assets, "assets")
	return http.StripPrefix("/assets/", http.FileServerFS(sub))
}
