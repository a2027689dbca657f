//! Model checks of the engine's hand-built synchronisation: the in-flight
//! gate and the driver hand-off between the task and callers.
//!
//! Built only under `RUSTFLAGS="--cfg shuttle"` (see `sync.rs`): Shuttle
//! then runs each check's tasks one step at a time, switching at every lock
//! and atomic access of the code under test, and explores the orders —
//! every one of them for the small checks (depth-first), a large random
//! sample (PCT scheduler) for the bigger ones. A lost wake shows up as a
//! task that never finishes, which Shuttle reports as a deadlock.
//!
//! ```text
//! RUSTFLAGS="--cfg shuttle" CARGO_TARGET_DIR=target/shuttle \
//!     cargo test -p pgline --lib conn::engine::model
//! ```

use std::sync::Arc;
use std::task::{Poll, Waker};

use shuttle::future::{block_on, spawn};
use shuttle::sync::Mutex;
use shuttle::sync::atomic::{AtomicUsize, Ordering};

use crate::conn::engine::gate::{Gate, GateClosed};
use crate::conn::engine::handoff::TurnHandoff;

/// Orders a PCT run samples for the checks too big to enumerate.
const SAMPLED_ORDERS: usize = 20_000;

/// `tasks` tasks each take a place from a gate of `places`, hold it for a
/// step, and give it back, `rounds` times: never more than `places` are inside at
/// once, and every task gets through (a give-back that missed a waiter
/// would leave it parked for good).
fn gate_round(places: usize, tasks: usize, rounds: usize) {
    let gate = Gate::new(places);
    let inside = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (gate, inside) = (gate.clone(), inside.clone());
            spawn(async move {
                for _ in 0..rounds {
                    let pass = gate.enter().await.expect("the gate is open");
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    assert!(now <= places, "{now} inside a gate of {places}");
                    inside.fetch_sub(1, Ordering::SeqCst);
                    drop(pass);
                }
            })
        })
        .collect();
    block_on(async {
        for handle in handles {
            handle.await.expect("a task ended");
        }
    });
}

#[test]
fn gate_two_tasks_one_place_every_order() {
    shuttle::check_dfs(|| gate_round(1, 2, 1), None);
}

#[test]
fn gate_two_tasks_one_place_two_rounds_sampled() {
    shuttle::check_pct(|| gate_round(1, 2, 2), SAMPLED_ORDERS, 3);
}

#[test]
fn gate_three_tasks_two_places_sampled() {
    shuttle::check_pct(|| gate_round(2, 3, 2), SAMPLED_ORDERS, 3);
}

/// Closing the gate while one task holds its only place and another waits:
/// the waiter and every later caller are turned away, in every order, and
/// nobody is left parked.
#[test]
fn gate_close_turns_waiters_away_every_order() {
    shuttle::check_dfs(
        || {
            let gate = Gate::new(1);
            let held = block_on(gate.enter()).expect("the gate is open");
            let waiter = {
                let gate = gate.clone();
                spawn(async move { gate.enter().await.map(drop) })
            };
            let closer = {
                let gate = gate.clone();
                spawn(async move { gate.close() })
            };
            block_on(async {
                closer.await.expect("the closer ended");
                // The waiter may have got the place only if it was given
                // back first; it was not, so it is turned away.
                assert_eq!(waiter.await.expect("the waiter ended"), Err(GateClosed));
            });
            drop(held);
            assert!(
                block_on(gate.enter()).is_err(),
                "a closed gate let a caller in"
            );
        },
        None,
    );
}

/// The driver task's turn against callers that take and release the
/// driver: whenever the task leaves its turn to a caller holding the lock,
/// some caller's let-go answers that the task must be woken, so the task
/// always gets its turn; and the driver is never held by two at once.
fn handoff_round(callers: usize) {
    let driver = Arc::new(Mutex::new(()));
    let handoff = Arc::new(TurnHandoff::new());
    let task_waker: Arc<Mutex<Option<Waker>>> = Arc::new(Mutex::new(None));
    let holders = Arc::new(AtomicUsize::new(0));

    let task = {
        let (driver, handoff) = (driver.clone(), handoff.clone());
        let (task_waker, holders) = (task_waker.clone(), holders.clone());
        spawn(std::future::poll_fn(move |cx| {
            // As `Io::run`: the task's waker is registered before the try.
            *task_waker.lock().unwrap() = Some(cx.waker().clone());
            match handoff.task_lock(&driver) {
                Some(guard) => {
                    assert_eq!(
                        holders.fetch_add(1, Ordering::SeqCst),
                        0,
                        "driver held twice"
                    );
                    holders.fetch_sub(1, Ordering::SeqCst);
                    drop(guard);
                    Poll::Ready(())
                }
                None => Poll::Pending,
            }
        }))
    };
    let callers: Vec<_> = (0..callers)
        .map(|_| {
            let (driver, handoff) = (driver.clone(), handoff.clone());
            let (task_waker, holders) = (task_waker.clone(), holders.clone());
            shuttle::thread::spawn(move || {
                // As `Io::drive` and `Io::write_if_idle`: try, never wait.
                if let Ok(guard) = driver.try_lock() {
                    assert_eq!(
                        holders.fetch_add(1, Ordering::SeqCst),
                        0,
                        "driver held twice"
                    );
                    holders.fetch_sub(1, Ordering::SeqCst);
                    drop(guard);
                    if handoff.let_go() {
                        let waker = task_waker.lock().unwrap().clone();
                        waker
                            .expect("a turn was left before the task registered")
                            .wake();
                    }
                }
            })
        })
        .collect();
    for caller in callers {
        caller.join().expect("a caller ended");
    }
    block_on(task).expect("the task's turn was lost");
}

#[test]
fn handoff_one_caller_every_order() {
    shuttle::check_dfs(|| handoff_round(1), None);
}

#[test]
fn handoff_two_callers_sampled() {
    shuttle::check_pct(|| handoff_round(2), SAMPLED_ORDERS, 3);
}
