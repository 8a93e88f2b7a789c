package tracecmd

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/lipgloss/table"

	"github.com/ssoctl/ssoctl/cmd/ssoctl/internal/cmdutil"
	"github.com/ssoctl/ssoctl/pkg/chain"
)

// p makes text from the walk (URLs, server-chosen names, error strings)
// safe for a terminal.
func p(s string) string { return cmdutil.Printable(s) }

// writeText writes the report people read: a header, the hop table, the
// cookies held, findings, expectations, probes and a one-line verdict. On
// a terminal (color) the table has borders and colors; otherwise it is
// plain columns, one line per cookie, for grep and diff. Cells are never
// cut to fit a narrow terminal (lipgloss would drop whole columns' text):
// the terminal wraps instead, and -o json has everything.
func writeText(w io.Writer, st *cmdutil.Styles, t *chain.Trace, color bool) {
	all := findings(t)
	n := count(t, all)

	title := "trace chain"
	if t.Chain != "" {
		title += " " + t.Chain
	}
	fmt.Fprintf(w, "%s %s\n", st.Heading.Render(p(title)), st.Dim.Render("("+p(t.Mode)+")"))
	fmt.Fprintf(w, "%s  %s\n", st.Label.Render("start"), p(t.Start))
	if t.Final != "" {
		status := statusText(st, t.FinalStatus, "")
		if t.FinalStatus == 0 {
			status = st.Bad.Render("no answer")
		}
		fmt.Fprintf(w, "%s  %s %s\n", st.Label.Render("final"), p(t.Final), status)
	}
	fmt.Fprintln(w)

	if len(t.Steps) > 0 {
		fmt.Fprintln(w, hopTable(st, t, all, color))
	}
	for _, s := range t.Steps {
		if s.Error != "" {
			fmt.Fprintf(w, "%s %s\n", st.Bad.Render(fmt.Sprintf("step %d:", s.N)), p(s.Error))
		}
		if s.ScriptNavigation != "" {
			fmt.Fprintf(w, "%s %s\n", st.Dim.Render(fmt.Sprintf("step %d:", s.N)), p(scriptStopNote(s)))
		}
	}

	if len(t.Cookies) > 0 {
		fmt.Fprintf(w, "\n%s\n", st.Heading.Render("Cookies held"))
		hosts := cookieHosts(t)
		width := 0
		for _, h := range hosts {
			width = max(width, len(p(h)))
		}
		for _, h := range hosts {
			var names []string
			for _, c := range t.Cookies[h] {
				names = append(names, p(cookieLabel(c)))
			}
			fmt.Fprintf(w, "  %-*s  %s\n", width, p(h), strings.Join(names, ", "))
		}
	}

	if len(all) > 0 {
		fmt.Fprintf(w, "\n%s\n", st.Heading.Render("Findings"))
		for _, f := range all {
			sev := st.Bad.Render("error")
			if f.Severity != chain.SeverityError {
				sev = st.Warn.Render("warning")
			}
			where := "after the walk"
			if f.Step > 0 {
				where = fmt.Sprintf("at step %d", f.Step)
			}
			if f.Host != "" {
				where += " on " + p(f.Host)
			}
			fmt.Fprintf(w, "  %s %s %s: %s\n", st.Code.Render(p(f.Code)), sev, st.Dim.Render(where), p(f.Title))
			if f.Detail != "" {
				fmt.Fprintf(w, "    %s\n", p(f.Detail))
			}
			if f.Fix != "" {
				fmt.Fprintf(w, "    %s %s\n", st.Label.Render("fix:"), p(f.Fix))
			}
		}
	}

	if len(t.Expectations) > 0 {
		fmt.Fprintf(w, "\n%s\n", st.Heading.Render("Expectations"))
		width := 0
		for _, e := range t.Expectations {
			width = max(width, len(p(e.Name)))
		}
		for _, e := range t.Expectations {
			mark := st.Good.Render("✓")
			if !e.OK {
				mark = st.Bad.Render("✗")
			}
			fmt.Fprintf(w, "  %s %-*s  %s %s  %s %s\n", mark, width, p(e.Name), st.Label.Render("want"), p(e.Want), st.Label.Render("got"), p(e.Got))
		}
	}

	if len(t.Probes) > 0 {
		fmt.Fprintf(w, "\n%s\n", st.Heading.Render("Probes"))
		nameW, targetW := 0, 0
		for _, pr := range t.Probes {
			nameW = max(nameW, len(p(pr.Name)))
			targetW = max(targetW, len(p(pr.Target)))
		}
		for _, pr := range t.Probes {
			var mark, what string
			switch {
			case pr.Skipped != "":
				mark, what = st.Dim.Render("-"), st.Dim.Render("skipped: "+p(pr.Skipped))
			case pr.Refused:
				mark, what = st.Good.Render("✓"), probeVerdict(pr)+" ("+strconv.Itoa(pr.Status)+")"
			default:
				style, sym := st.Bad, "✗"
				if !pr.Fails() {
					style, sym = st.Warn, "!" // a warning's finding: told, not failed
				}
				mark, what = style.Render(sym), style.Render(probeVerdict(pr)+" ("+strconv.Itoa(pr.Status)+")")
				if pr.Finding != "" {
					what += " " + st.Code.Render(p(pr.Finding))
				}
				if pr.Attempts > 1 {
					what += "  " + st.Dim.Render(attemptsNote(pr))
				}
			}
			if pr.Token != nil {
				what += "  " + st.Dim.Render("id_token "+p(tokenLabel(pr.Token)))
			}
			fmt.Fprintf(w, "  %s %-*s  %-*s  %s\n", mark, nameW, p(pr.Name), targetW, p(pr.Target), what)
		}
	}

	if t.Logout != nil {
		writeLogout(w, st, t.Logout)
	}

	fmt.Fprintf(w, "\n%s\n", verdict(st, t, n))
}

// writeLogout is --logout's section: the logout walk in a line, then each
// receiver's lag from GET /logout to its /auth answering 401.
func writeLogout(w io.Writer, st *cmdutil.Styles, l *chain.LogoutResult) {
	fmt.Fprintf(w, "\n%s\n", st.Heading.Render("Logout"))
	walk := fmt.Sprintf("%s → %s", p(hostPath(l.Start)), p(hostPath(l.Final)))
	if l.Final == "" {
		walk = p(hostPath(l.Start))
	}
	fmt.Fprintf(w, "  %s  %s %s\n", st.Label.Render("walk"), walk,
		st.Dim.Render(fmt.Sprintf("(%d steps, %s ms)", len(l.Steps), ms(l.ElapsedMS))))
	if l.Error != "" {
		fmt.Fprintf(w, "  %s %s\n", st.Bad.Render("✗"), p(l.Error))
	}
	width := 0
	for _, r := range l.Receivers {
		width = max(width, len(p(r.Name)))
	}
	deadline := time.Duration(l.DeadlineMS * float64(time.Millisecond))
	for _, r := range l.Receivers {
		channel := "back-channel"
		if !r.Backchannel {
			channel = "no back-channel"
		}
		var mark, what string
		switch {
		case r.SignedOut:
			mark, what = st.Good.Render("✓"), fmt.Sprintf("signed out after %s (%d)", lag(r.LagMS), r.Status)
		case r.Status >= 200 && r.Status <= 299:
			mark, what = st.Bad.Render("✗"), st.Bad.Render(fmt.Sprintf("still signed in after %s (%d)", deadline, r.Status))+" "+st.Code.Render(chain.FindingSignedInAfterLogout.Code)
		case r.Status == 0 && r.Detail != "":
			mark, what = st.Dim.Render("-"), st.Dim.Render(p(r.Detail))
		default:
			mark, what = st.Bad.Render("✗"), st.Bad.Render(fmt.Sprintf("no 401 within %s (%d)", deadline, r.Status))
		}
		fmt.Fprintf(w, "  %s %-*s  %s  %s\n", mark, width, p(r.Name), what, st.Dim.Render(channel))
	}
}

// lag renders a sign-out lag in milliseconds: "12ms", "1.4s".
func lag(msec float64) string {
	d := time.Duration(msec * float64(time.Millisecond))
	if d < time.Second {
		return d.Round(100 * time.Microsecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// hopTable lays the steps out with lipgloss/table.
func hopTable(st *cmdutil.Styles, t *chain.Trace, all []chain.Finding, color bool) string {
	headers := []string{"#", "METHOD", "URL", "STATUS", "MS", "KIND", "COOKIES SET", "TOKEN"}
	rows := make([][]string, 0, len(t.Steps))
	for _, s := range t.Steps {
		var cookies []string
		for _, c := range s.SetCookies {
			label := p(cookieLabel(c))
			if c.Rejected != "" {
				label = st.Bad.Render(label)
			}
			cookies = append(cookies, label)
		}
		for _, c := range s.Withheld {
			cookies = append(cookies, st.Dim.Render(p(withheldShort(c))))
		}
		for _, c := range s.Cleared {
			cookies = append(cookies, p(c.Name+" CLEARED (Clear-Site-Data)"))
		}
		num := strconv.Itoa(s.N)
		for _, f := range stepFindings(all, s.N) {
			if f.Severity == chain.SeverityError {
				num = st.Bad.Render(num + "!")
				break
			}
		}
		rows = append(rows, []string{
			num, p(s.Method), p(hostPath(s.URL)), statusText(st, s.Status, s.Error), ms(s.ElapsedMS),
			p(kindLabel(s)), strings.Join(cookies, "\n"), p(stepTokenLabel(s)),
		})
	}
	if !color {
		headers[0] = "N"
	}
	tbl := table.New().Headers(headers...).Rows(rows...)
	cell := lipgloss.NewStyle().PaddingRight(2)
	if color {
		cell = lipgloss.NewStyle().Padding(0, 1)
		head := st.Heading.Padding(0, 1)
		tbl = tbl.Border(lipgloss.RoundedBorder()).BorderStyle(st.Dim).
			StyleFunc(func(row, col int) lipgloss.Style {
				if row == table.HeaderRow {
					return head
				}
				return cell
			})
		return tbl.Render()
	}
	tbl = tbl.BorderTop(false).BorderBottom(false).BorderLeft(false).BorderRight(false).
		BorderHeader(false).BorderColumn(false).
		StyleFunc(func(row, col int) lipgloss.Style { return cell })
	lines := strings.Split(tbl.Render(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

// statusText is an HTTP status for people, colored by class.
func statusText(st *cmdutil.Styles, status int, transportErr string) string {
	switch {
	case status == 0 && transportErr != "":
		return st.Bad.Render("error")
	case status == 0:
		return "-"
	case transportErr != "":
		// An answer no browser can follow (a broken Location).
		return st.Bad.Render(strconv.Itoa(status))
	case status >= 400:
		return st.Bad.Render(strconv.Itoa(status))
	case status >= 200 && status < 300:
		return st.Good.Render(strconv.Itoa(status))
	}
	return strconv.Itoa(status)
}

// cookieHosts lists t.Cookies' hosts in the order the walk met them.
func cookieHosts(t *chain.Trace) []string {
	var hosts []string
	seen := map[string]bool{}
	for _, s := range t.Steps {
		hp, _, _ := splitURL(s.URL)
		// Cookies do not tell ports apart (RFC 6265 §8.5): the trace keys
		// them by host name.
		for _, h := range []string{hp, hostname(hp)} {
			if _, ok := t.Cookies[h]; ok && !seen[h] {
				seen[h] = true
				hosts = append(hosts, h)
			}
		}
	}
	var rest []string
	for h := range t.Cookies {
		if !seen[h] {
			rest = append(rest, h)
		}
	}
	slices.Sort(rest)
	return append(hosts, rest...)
}

// verdict is the last line: PASS, FAIL or UNREACHABLE, and why.
func verdict(st *cmdutil.Styles, t *chain.Trace, n tally) string {
	walk := fmt.Sprintf("%s in %s ms", plural(len(t.Steps), "step"), ms(t.ElapsedMS))
	if t.Unreachable != "" {
		return fmt.Sprintf("%s %s did not answer; the walk stopped after %s", st.Bad.Render("UNREACHABLE"), p(t.Unreachable), walk)
	}
	var parts []string
	switch {
	case n.errors > 0 && n.warnings > 0:
		parts = append(parts, plural(n.errors, "error finding")+", "+plural(n.warnings, "warning"))
	case n.errors > 0:
		parts = append(parts, plural(n.errors, "error finding"))
	case n.warnings > 0:
		parts = append(parts, "no errors, "+plural(n.warnings, "warning"))
	default:
		parts = append(parts, "no findings")
	}
	if n.expectations > 0 {
		if n.expFailed > 0 {
			parts = append(parts, fmt.Sprintf("%d of %s failed", n.expFailed, plural(n.expectations, "expectation")))
		} else {
			parts = append(parts, fmt.Sprintf("%s met", plural(n.expectations, "expectation")))
		}
	}
	if n.probes > 0 {
		ran := n.probes - n.skip
		switch {
		case n.accepted > 0:
			parts = append(parts, fmt.Sprintf("%d of %s accepted", n.accepted, plural(n.probes, "probe")))
			if n.warned > 0 {
				parts = append(parts, fmt.Sprintf("%d more with a warning", n.warned))
			}
		case n.warned > 0:
			parts = append(parts, fmt.Sprintf("%d of %s refused, %d accepted with a warning", ran-n.warned, plural(ran, "probe"), n.warned))
		case ran > 0:
			parts = append(parts, fmt.Sprintf("%d of %s refused", ran, plural(ran, "probe")))
		}
		if n.skip > 0 {
			parts = append(parts, fmt.Sprintf("%d skipped", n.skip))
		}
	}
	word := st.Good.Render("PASS")
	if t.Failed() {
		word = st.Bad.Render("FAIL")
	}
	return fmt.Sprintf("%s %s: %s", word, walk, strings.Join(parts, ", "))
}

// attemptsNote says where an accepted probe's Attempts went: replay and
// revoked_session stop at the first acceptance, so it was the last one
// (refused before: another instance behind a load balancer took it);
// session_instances always sends them all, and its answers disagreed.
func attemptsNote(pr chain.ProbeResult) string {
	if pr.Name == chain.ProbeSessionInstances {
		return "over " + strconv.Itoa(pr.Attempts) + " attempts"
	}
	return "on attempt " + strconv.Itoa(pr.Attempts)
}

// probeVerdict is the word for a probe's outcome: "refused" or "accepted"
// for an attack; for session_instances, which expects every instance to
// sign the session in, "agreed" or "disagreed".
func probeVerdict(pr chain.ProbeResult) string {
	switch {
	case pr.Name == chain.ProbeSessionInstances && pr.Refused:
		return "agreed"
	case pr.Name == chain.ProbeSessionInstances:
		return "disagreed"
	case pr.Refused:
		return "refused"
	}
	return "accepted"
}
