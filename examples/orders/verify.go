package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"maps"
	"slices"
)

// verdict is what the two databases say about the run.
type verdict struct {
	upTo        int // the order numbers attempted: 1 to upTo
	committed   int // orders in the orders table
	rolledBack  int // numbers in 1..upTo that fail the check: they must be nowhere
	shipments   int
	claims      int // the idempotent consumer's claims in the shipping database
	customers   int
	unordered   int // customers whose shipments are out of order
	firstID     string
	lastID      string
	problems    []string
	problemsCut int // problems not listed
}

func (v *verdict) ok() bool { return len(v.problems) == 0 }

func (v *verdict) problem(format string, args ...any) {
	if len(v.problems) >= 20 {
		v.problemsCut++
		return
	}
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

// counts returns how many orders and shipments the databases hold.
func counts(ctx context.Context, orders, shipping *sql.DB) (nOrders, nShipments int, err error) {
	if err := orders.QueryRowContext(ctx, `SELECT count(*) FROM orders`).Scan(&nOrders); err != nil {
		return 0, 0, fmt.Errorf("counting orders: %w", err)
	}
	if err := shipping.QueryRowContext(ctx, `SELECT count(*) FROM shipments`).Scan(&nShipments); err != nil {
		return 0, 0, fmt.Errorf("counting shipments: %w", err)
	}
	return nOrders, nShipments, nil
}

// verify reads both databases once the run is over: orders 1 to upTo were
// attempted. Every order that passes the check must be in the orders table
// as orderFor made it, and shipped exactly once; every other must be in
// neither table; each customer's shipments must follow the order numbers.
func verify(ctx context.Context, orders *sql.DB, shipping *sql.DB, shippingKind string, upTo int) (*verdict, error) {
	v := &verdict{upTo: upTo}
	committed := map[int]bool{}
	rows, err := orders.QueryContext(ctx, `SELECT id, customer, total_cents FROM orders`)
	if err != nil {
		return nil, fmt.Errorf("reading the orders: %w", err)
	}
	err = scanOrders(rows, func(id, customer string, cents int64) {
		n, ok := parseOrderID(id)
		switch want := orderFor(n); {
		case !ok || n > upTo:
			v.problem("order %s: not one of ord-00000001 to %s", id, orderID(upTo))
		case committed[n]:
			v.problem("order %s: twice in the table", id)
		case want.check() != nil:
			v.problem("order %s: committed, although its check fails (%v)", id, want.check())
		case customer != want.customer || cents != want.cents:
			v.problem("order %s: %s %s, want %s %s", id, customer, dollars(cents), want.customer, dollars(want.cents))
		}
		committed[n] = true
	})
	if err != nil {
		return nil, fmt.Errorf("reading the orders: %w", err)
	}
	v.committed = len(committed)
	for n := 1; n <= upTo; n++ {
		if orderFor(n).check() != nil {
			v.rolledBack++
			continue
		}
		if !committed[n] {
			v.problem("order %s: missing, its number skipped", orderID(n))
		}
	}

	shipped := map[int]int{}
	last := map[string]int{} // customer: the order number shipped last
	outOfOrder := map[string]bool{}
	rows, err = shipping.QueryContext(ctx, `SELECT order_id, customer, total_cents FROM shipments ORDER BY `+shippingOrder[shippingKind])
	if err != nil {
		return nil, fmt.Errorf("reading the shipments: %w", err)
	}
	err = scanOrders(rows, func(id, customer string, cents int64) {
		v.shipments++
		n, ok := parseOrderID(id)
		want := orderFor(n)
		switch {
		case !ok || !committed[n] && want.check() == nil:
			v.problem("shipment of %s: no such order", id)
		case !committed[n]:
			v.problem("shipment of %s: the order was rolled back", id)
		case customer != want.customer || cents != want.cents:
			v.problem("shipment of %s: %s %s, want %s %s", id, customer, dollars(cents), want.customer, dollars(want.cents))
		}
		shipped[n]++
		if l, ok := last[customer]; ok && n < l {
			if !outOfOrder[customer] {
				v.unordered++
			}
			outOfOrder[customer] = true
			v.problem("customer %s: %s shipped after %s", customer, id, orderID(l))
		}
		last[customer] = n
	})
	if err != nil {
		return nil, fmt.Errorf("reading the shipments: %w", err)
	}
	v.customers = len(last)
	for _, n := range slices.Sorted(maps.Keys(committed)) {
		if shipped[n] != 1 {
			v.problem("order %s: shipped %d times", orderID(n), shipped[n])
		}
	}
	if len(committed) > 0 {
		ns := slices.Sorted(maps.Keys(committed))
		v.firstID, v.lastID = orderID(ns[0]), orderID(ns[len(ns)-1])
	}
	// The claims: one per message handled for good (prefix "meshmq", the
	// stores' default: TablePrefix).
	if err := shipping.QueryRowContext(ctx, rebind(shippingKind, `SELECT count(*) FROM meshmq_processed WHERE consumer = ?`),
		shippingConsumer).Scan(&v.claims); err != nil {
		return nil, fmt.Errorf("counting the claims: %w", err)
	}
	if v.claims != v.shipments {
		v.problem("%d claims for %d shipments: each order event is claimed once, with its shipment", v.claims, v.shipments)
	}
	return v, nil
}

func scanOrders(rows *sql.Rows, fn func(id, customer string, cents int64)) error {
	defer rows.Close()
	for rows.Next() {
		var id, customer string
		var cents int64
		if err := rows.Scan(&id, &customer, &cents); err != nil {
			return err
		}
		fn(id, customer, cents)
	}
	return rows.Err()
}

// print writes the verdict's table.
func (v *verdict) print(w io.Writer, redelivered, dropped int) {
	line := func(label, format string, args ...any) {
		fmt.Fprintf(w, "  %-30s %s\n", label, fmt.Sprintf(format, args...))
	}
	line("orders committed", "%d (%s to %s)", v.committed, orEmpty(v.firstID), orEmpty(v.lastID))
	line("orders rolled back", "%d (the credit check), none in either table", v.rolledBack)
	line("shipments", "%d, %d claims", v.shipments, v.claims)
	line("redeliveries", "%d skipped by their claims, %d dropped by the dedup window", redelivered, dropped)
	line("per-customer order", "%d customers, %d of them shipped out of order", v.customers, v.unordered)
	if v.ok() {
		fmt.Fprintf(w, "  every committed order shipped exactly once; no rolled-back order shipped; no shipment without its order\n")
		return
	}
	fmt.Fprintf(w, "  PROBLEMS:\n")
	for _, p := range v.problems {
		fmt.Fprintf(w, "    %s\n", p)
	}
	if v.problemsCut > 0 {
		fmt.Fprintf(w, "    and %d more\n", v.problemsCut)
	}
}
