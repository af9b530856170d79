// Package scheduler fires a service's events because a date arrives — a contract's notice window
// opens, a certification expires, a review falls due — rather than because someone called the
// API. The dates live in the service's own database as due items; a leased worker fires each
// one, once, through a handler that writes the resulting event through the outbox.
//
// # Declaring dates
//
// A service declares a date with Schedule in the transaction of the change that sets it, and
// clears it with Cancel or CancelResource in the transaction of the change that clears it, so
// that the date commits with the change or not at all: a rolled-back change schedules nothing.
// An item is named by a key the service chooses ("contracts/c1:notice_window"), has a kind (the
// handler that fires it), the resource it is about, its due time and an optional small payload.
// Scheduling a key again moves its date; declaring the same date again after it fired does not
// fire it twice, while a new date arms it again (Schedule lists the cases). Fired items keep
// their rows for that reason; Cancel and CancelResource remove unfired items only.
//
// # Firing
//
// A Worker per service, one active across replicas (the holder of sqldb's lease, as for the
// outbox relay; the others stand by and take over when its database connection ends), fires
// each due item exactly once in effect: in one transaction it reads the item again, locked, skips
// it when it has fired, moved to a later date or been cancelled since, calls the handler of its
// kind — which writes the event, typically with tx.Emit — and marks it fired. A crash before the
// commit leaves the item unfired, to be fired by the next worker; after the commit it never fires
// again. Even two workers that both believe they hold the lease (one lost it mid-pass) fire an
// item once: the second waits for the first's row lock and then finds the item fired.
//
// Items fire in due order, BatchSize to a transaction, which claims its items with one statement
// (locked, in due order) and marks them fired with one more. A handler that changes scheduled
// items finds those fired before it in the transaction marked, and the worker claims the rest
// again after it, so that a transaction of many items fires them as it would one by one. The
// handlers of a transaction share TxCache, where a handler of several items about one resource
// keeps what it read of it once, and Defer, with which it writes the resource once after the
// last of them (before a handler of another kind runs, and before the items are marked). Items
// that came due while every replica was down fire when a worker starts, oldest first, and a
// handler learns both when its item was due and when it fired (Fired), so that the event can say
// both. The worker sleeps until the next due time, and wakes earlier on Notify (the host calls it
// after every commit that scheduled or retried an item, Work) and every PollInterval, for items
// that other replicas scheduled.
//
// A handler that fails rolls its transaction back — no event, the item unfired — and the item is
// tried again after a backoff that doubles from BackoffInitial to BackoffMax; its attempts and
// last error are kept with it and logged. A failing item does not hold the others up: they fire
// in due order while it waits for its retry. After MaxAttempts attempts, or at once for an error
// wrapped with Permanent, the worker gives up on the item; it stays in the table, counted by the
// failed_items gauge, until Retry arms it again or Schedule gives it a new date.
//
// A handler may schedule its own item again for a later date in its transaction — a daily
// evaluation — and the item is then armed for that date instead of marked fired.
//
// # Time
//
// The worker reads the time from a clock.Clock: the real clock in the binaries, a clock.Fake in
// tests, which set and advance it to make a date arrive without waiting for it. Due, next,
// fired and failed times are the worker clock's; the rows' create and update times are the
// system clock's. Times are stored in UTC at microsecond precision.
//
// # Metrics
//
// Labelled service="<domain>" (metrics.go): due_items and oldest_lag, the backlog of due,
// unfired items and how long the oldest has been due; lease_held; failed_items; the fired and
// handler_errors counters; and the fire_lag histogram, fire time minus due time per item.
package scheduler
