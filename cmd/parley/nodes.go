package main

import (
	"context"
	"log/slog"
	"time"
)

// watchNodes keeps this node's heartbeat in the shared store and purges the bindings of nodes
// silent for cluster.dead_after (their members' sessions died with them; the members rejoin
// through the proxy to a live node), until ctx ends.
func (d *daemon) watchNodes(ctx context.Context) {
	deadAfter := d.cfg.Cluster.DeadAfter
	beat := func() {
		bctx, cancel := context.WithTimeout(ctx, deadAfter/3)
		defer cancel()
		if err := d.store.Heartbeat(bctx); err != nil {
			if ctx.Err() == nil {
				d.log.Warn("node heartbeat not stored", "node", d.node, "err", err)
			}
			return
		}
		dead, err := d.store.PurgeDeadNodes(bctx, deadAfter)
		switch {
		case err != nil && ctx.Err() == nil:
			d.log.Warn("dead nodes not purged", "err", err)
		case len(dead.Nodes) > 0:
			level := slog.LevelWarn // it died with members
			if dead.Bindings == 0 {
				level = slog.LevelInfo // it stopped, or died empty
			}
			d.log.Log(ctx, level, "purged the bindings of nodes not heard from", "nodes", dead.Nodes, "bindings", dead.Bindings,
				"rooms", dead.Rooms, "dead_after", deadAfter)
			d.deadNodes.Add(float64(len(dead.Nodes)))
			d.focus.BindingsChanged(dead.Rooms)
		}
	}
	beat()
	tick := time.NewTicker(deadAfter / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			beat()
		}
	}
}
