//! usher-provisioning's tests: the planner's decisions as pure functions; the
//! planner and the sign-in gate against real storage (SQLite, and PostgreSQL when
//! `USHER_TEST_POSTGRES_URL` is set; `USHER_TEST_REQUIRE_SERVICES=1` makes its
//! absence a failure); jobs delivered through the real SCIM connector into
//! scim2-server (`delivery`) and into a target that fails on purpose (`faults`);
//! and the runtime on SQLite and PostgreSQL sending enqueued jobs (`runtime`).
#![allow(clippy::unwrap_used)]

mod db;
mod delivery;
mod faults;
mod gate;
mod harness;
mod planner;
mod planner_rules;
mod runtime;
mod support;

/// Stamps out `sqlite::<name>` and `postgres::<name>` for each `async fn
/// <name>(db: Database)`.
macro_rules! suite {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::harness::on_sqlite(super::$module::$name).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::harness::on_postgres(super::$module::$name).await;
                }
            )*
        }
    };
}

suite!(
    planner::joining_an_assigned_group_plans_one_account_and_leaving_takes_it_back,
    planner::deactivation_ends_sessions_then_plans_an_inactive_account,
    planner::a_failing_session_step_leaves_the_batch_for_the_next_round,
    planner::an_application_change_syncs_everyone_assigned,
    planner::repeated_changes_coalesce_into_the_latest_state,
    planner::an_unreadable_event_is_marked_and_counted_not_fatal,
    planner::another_instance_holding_the_lease_plans_nothing,
    gate::unassigned_users_are_refused_naming_the_app,
    gate::a_first_sign_in_enqueues_the_account_and_admits_after_the_wait,
);
