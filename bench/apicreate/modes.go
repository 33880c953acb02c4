package main

import "context"

// modeKyverno sends the compact seed with Kyverno's ClusterPolicy in place
// and raypilot's webhook configurations removed.
const modeKyverno = "kyverno"

// modes are the modes of this run: kyverno only with a Kyverno process.
func (e *environment) modes() []string {
	ms := []string{modeWebhook, modeWithout, modeExpanded, modeSingle}
	if e.kyverno != nil {
		ms = append(ms, modeKyverno)
	}
	return ms
}

// enter sets up admission for mode m: raypilot's two-call or single-call
// webhook configurations registered for webhook and single, Kyverno's
// policy in place for kyverno, none otherwise. Whatever is on is switched
// off before the other is switched on, so the expanded dry run that ends
// the switch is the wanted admission's doing.
func (e *environment) enter(ctx context.Context, m string) error {
	raypilot := ""
	if m == modeWebhook || m == modeSingle {
		raypilot = m
	}
	if e.raypilot != "" && e.raypilot != raypilot {
		if err := e.setWebhook(ctx, ""); err != nil {
			return err
		}
		e.raypilot = ""
	}
	if e.kyverno != nil && m != modeKyverno {
		if err := e.setKyverno(ctx, false); err != nil {
			return err
		}
	}
	if raypilot != "" && e.raypilot != raypilot {
		if err := e.setWebhook(ctx, raypilot); err != nil {
			return err
		}
		e.raypilot = raypilot
	}
	if m == modeKyverno {
		return e.setKyverno(ctx, true)
	}
	return nil
}
