package main

import (
	"context"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"

	"httpd/conf"
)

// importTimeout bounds the import check of each application.
const importTimeout = 30 * time.Second

// importChecker is implemented by stages that run an application which
// can fail to load (WSGI, ASGI): CheckImport loads it once in a
// throwaway process and reports a failure as diagnostics.
type importChecker interface {
	CheckImport(ctx context.Context) hcl.Diagnostics
}

// checkImports runs the import check of every stage that has one, all
// at once, each bounded by importTimeout, and returns their diagnostics
// in config order.
func checkImports(cfg *conf.Config) hcl.Diagnostics {
	var checkers []importChecker
	for _, v := range cfg.VHosts {
		for _, mb := range v.Modules {
			if c, ok := mb.Module.(importChecker); ok {
				checkers = append(checkers, c)
			}
		}
	}
	results := make([]hcl.Diagnostics, len(checkers))
	var wg sync.WaitGroup
	for i, c := range checkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), importTimeout)
			defer cancel()
			results[i] = c.CheckImport(ctx)
		}()
	}
	wg.Wait()
	var diags hcl.Diagnostics
	for _, d := range results {
		diags = append(diags, d...)
	}
	return diags
}
