package main

import "context"

// modeKyverno sends the compact seed with Kyverno's ClusterPolicy in place
// and raypilot's webhook configurations removed.
const modeKyverno = "kyverno"

// modes are the modes of this run: kyverno only with a Kyverno process.
func (e *environment) modes() []string {
	ms := []string{modeWebhook, modeWithout, modeExpanded}
	if e.kyverno != nil {
		ms = append(ms, modeKyverno)
	}
	return ms
}

// enter sets up admission for mode m: raypilot's webhook configurations
// registered for webhook, Kyverno's policy in place for kyverno, neither
// otherwise. Whatever is on is switched off before the other is switched
// on, so the expanded dry run that ends the switch is the wanted
// admission's doing.
func (e *environment) enter(ctx context.Context, m string) error {
	if e.webhookOn && m != modeWebhook {
		if err := e.setWebhook(ctx, false); err != nil {
			return err
		}
		e.webhookOn = false
	}
	if e.kyverno != nil && m != modeKyverno {
		if err := e.setKyverno(ctx, false); err != nil {
			return err
		}
	}
	switch m {
	case modeWebhook:
		if !e.webhookOn {
			if err := e.setWebhook(ctx, true); err != nil {
				return err
			}
			e.webhookOn = true
		}
	case modeKyverno:
		return e.setKyverno(ctx, true)
	}
	return nil
}
