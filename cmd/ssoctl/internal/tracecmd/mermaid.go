package tracecmd

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ssoctl/ssoctl/pkg/chain"
)

// mermaidText escapes text for a Mermaid label, as chain graph does: '#'
// and ';' end a statement or start an entity, '<' and '>' would be read as
// HTML, a line break ends the statement. Mermaid decodes the #NN; codes
// when it renders. Control characters (terminal escapes) become spaces.
var mermaidText = strings.NewReplacer("#", "#35;", ";", "#59;", "<", "#60;", ">", "#62;", "\n", " ", "\r", " ")

func mermaid(s string) string {
	s = mermaidText.Replace(s)
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

// writeMermaid writes the walk as a Mermaid sequenceDiagram: the browser
// as an actor, one participant per host in the order the walk met them,
// one arrow per step ("3 GET /sso?token=… 303" and the token it carried),
// a note for each finding where it was seen, then the probes, and the
// expectations that failed. receivers maps receiver names to their
// host:port, so that a probe arrow goes to its receiver.
func writeMermaid(w io.Writer, t *chain.Trace, receivers map[string]string) {
	all := findings(t)
	title := "trace chain"
	if t.Chain != "" {
		title += " " + t.Chain
	}
	title += " (" + t.Mode + ")"
	fmt.Fprintln(w, "sequenceDiagram")
	fmt.Fprintf(w, "    title %s\n", mermaid(title))
	fmt.Fprintln(w, "    actor Browser")

	ids := map[string]string{}
	id := func(host string) string {
		if v, ok := ids[host]; ok {
			return v
		}
		v := "h" + strconv.Itoa(len(ids)+1)
		ids[host] = v
		fmt.Fprintf(w, "    participant %s as %s\n", v, mermaid(host))
		return v
	}
	// Declared up front, so the columns keep the walk's order even when a
	// note or probe comes first.
	for _, s := range t.Steps {
		h, _, _ := splitURL(s.URL)
		id(h)
	}

	for _, f := range stepFindings(all, 0) {
		fmt.Fprintf(w, "    Note over Browser: %s\n", mermaid(findingNote(f)))
	}
	for _, s := range t.Steps {
		h, _, _ := splitURL(s.URL)
		to := id(h)
		label := fmt.Sprintf("%d %s %s", s.N, s.Method, requestTarget(s.URL))
		arrow := "->>"
		switch {
		case s.Error != "" && s.Status == 0:
			label += " no answer"
			arrow = "-x"
		case s.Error != "":
			label += " " + strconv.Itoa(s.Status) + " ✗ " + s.Error
			arrow = "-x"
		case s.Status != 0:
			label += " " + strconv.Itoa(s.Status)
		}
		if s.Navigation != "" {
			label += " (by " + s.Navigation + ")"
		}
		label = mermaid(label)
		if s.OIDC != nil {
			label += "<br/>" + mermaid("oidc "+oidcLabel(s.OIDC))
		}
		if s.Token != nil {
			label += "<br/>" + mermaid("token "+tokenLabel(s.Token))
		}
		fmt.Fprintf(w, "    Browser%s%s: %s\n", arrow, to, label)
		if len(s.Withheld) > 0 {
			var held []string
			for _, c := range s.Withheld {
				held = append(held, withheldLabel(c))
			}
			fmt.Fprintf(w, "    Note left of %s: %s\n", to, mermaid(strings.Join(held, "; ")))
		}
		if len(s.SetCookies) > 0 || len(s.Cleared) > 0 {
			var set, cleared []string
			for _, c := range s.SetCookies {
				switch {
				case c.Rejected != "":
					set = append(set, c.Name+" (rejected)")
				case c.Deleted:
					cleared = append(cleared, c.Name)
				default:
					set = append(set, c.Name)
				}
			}
			for _, c := range s.Cleared {
				cleared = append(cleared, c.Name+" (Clear-Site-Data)")
			}
			var parts []string
			if len(set) > 0 {
				parts = append(parts, "sets "+strings.Join(set, ", "))
			}
			if len(cleared) > 0 {
				parts = append(parts, "clears "+strings.Join(cleared, ", "))
			}
			fmt.Fprintf(w, "    Note right of %s: %s\n", to, mermaid(strings.Join(parts, "; ")))
		}
		for _, f := range stepFindings(all, s.N) {
			fmt.Fprintf(w, "    Note over %s: %s\n", to, mermaid(findingNote(f)))
		}
		if s.ScriptNavigation != "" {
			fmt.Fprintf(w, "    Note over %s: %s\n", to, mermaid("the page moves on by script ("+s.ScriptNavigation+") to a URL it computes; the walk stopped"))
		}
	}
	if t.Unreachable != "" {
		fmt.Fprintf(w, "    Note over Browser: %s\n", mermaid("✗ "+t.Unreachable+" is unreachable; the walk stopped"))
	}

	for _, pr := range t.Probes {
		to := "Browser"
		if pid, ok := probeTarget(t, pr.Target, receivers, ids); ok {
			to = pid
		}
		var what string
		switch {
		case pr.Skipped != "":
			what = "skipped: " + pr.Skipped
		case pr.Refused:
			what = strconv.Itoa(pr.Status) + " " + probeVerdict(pr)
		default:
			what = strconv.Itoa(pr.Status) + " " + strings.ToUpper(probeVerdict(pr))
			if pr.Finding != "" {
				what += " " + pr.Finding
			}
		}
		fmt.Fprintf(w, "    Browser--)%s: %s\n", to, mermaid("probe "+pr.Name+" → "+what))
	}
	if l := t.Logout; l != nil {
		fmt.Fprintf(w, "    Note over Browser: %s\n", mermaid(fmt.Sprintf("logout: %s, %d steps", hostPath(l.Start), len(l.Steps))))
		for _, r := range l.Receivers {
			what := fmt.Sprintf("%s: /auth %d", r.Name, r.Status)
			if r.SignedOut {
				what += " after " + lag(r.LagMS)
			} else if r.Status >= 200 && r.Status <= 299 {
				what += " still signed in " + chain.FindingSignedInAfterLogout.Code
			}
			fmt.Fprintf(w, "    Note over Browser: %s\n", mermaid(what))
		}
	}
	for _, e := range t.Expectations {
		if !e.OK {
			fmt.Fprintf(w, "    Note over Browser: %s\n", mermaid(fmt.Sprintf("✗ expect %s: want %s, got %s", e.Name, e.Want, e.Got)))
		}
	}
}

func findingNote(f chain.Finding) string {
	mark := "✗"
	if f.Severity != chain.SeverityError {
		mark = "⚠"
	}
	return mark + " " + f.Code + " " + f.Title
}

// probeTarget finds the participant a probe went to: the receiver's host,
// a host named as the target, or the host whose /sso took a handoff for
// that audience.
func probeTarget(t *chain.Trace, target string, receivers map[string]string, ids map[string]string) (string, bool) {
	if v, ok := ids[receivers[target]]; ok {
		return v, true
	}
	if v, ok := ids[target]; ok {
		return v, true
	}
	for _, s := range t.Steps {
		if s.Token != nil && len(s.Token.Audience) == 1 && s.Token.Audience[0] == target {
			h, _, _ := splitURL(s.URL)
			v, ok := ids[h]
			return v, ok
		}
	}
	return "", false
}
