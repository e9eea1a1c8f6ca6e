//! The SQL conformance suite: every test function below runs on SQLite (a fresh
//! temporary file) and on PostgreSQL (a fresh `usher_test_<random>` database on the
//! server named by `USHER_TEST_POSTGRES_URL`), through [`suite!`].
//!
//! Without `USHER_TEST_POSTGRES_URL` the PostgreSQL half prints `SKIPPED` and passes,
//! unless `USHER_TEST_REQUIRE_SERVICES=1` (as on CI), where it fails instead.

mod app_assignments;
mod app_sealing;
mod applications;
mod connect;
mod credentials;
mod grants;
mod groups;
mod harness;
mod hostile;
mod job_races;
mod jobs;
mod keys;
mod outbox;
mod provision;
mod query;
mod registry;
mod remote;
mod users;

/// Stamps out `sqlite::<name>` and `postgres::<name>` tests for each suite function
/// `async fn <name>(db: Database)`.
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
    users::migrations_are_idempotent,
    users::create_and_find_users,
    users::uniqueness_conflicts_change_nothing,
    users::update_user_emits_the_right_events,
    users::failed_update_leaves_row_and_outbox_untouched,
    users::delete_user_cascades,
    groups::groups_and_memberships,
    groups::delete_group_announces_each_member,
    groups::concurrent_adds_report_once,
    users::paging_is_complete_and_stable,
    groups::identity_links,
    groups::outbox_order_and_mark_processed,
    groups::an_unreadable_outbox_row_is_named_not_fatal,
    hostile::sql_injection_strings_are_data,
    hostile::oversized_and_malformed_inputs_are_invalid,
    hostile::timestamps_round_trip,
    registry::upstreams_put_replace_delete,
    registry::audit_log_range,
    keys::key_store_round_trip,
    keys::wrong_master_key_is_reported_and_changes_nothing,
    keys::retire_and_purge_expired,
    credentials::password_hashes_set_replace_remove,
    credentials::password_hashes_refuse_plain_text_and_unknown_users,
    credentials::password_hashes_go_with_their_user,
    credentials::audited_password_and_scim_client_writes,
    provision::provisioning_creates_user_link_groups_report_and_events_together,
    provision::failed_provisioning_leaves_no_half_created_user,
    provision::force_sync_and_deactivated_users,
    provision::report_queries_by_user_upstream_and_time,
    provision::scim_user_is_linked_by_external_id_on_first_upstream_sign_in,
    query::filters_translate_to_bound_sql,
    query::queries_page_count_and_scope,
    query::oversized_filters_are_refused,
    query::conditional_writes_and_audit,
    query::group_changes_are_atomic,
    query::scim_client_tokens,
    grants::consents_grant_read_expire_revoke,
    grants::consents_add_up_refuse_junk_and_go_with_their_user,
    grants::refresh_families_rotate_and_detect_reuse,
    grants::refresh_families_revoke_for_user_and_purge,
    grants::concurrent_rotations_of_one_token_let_exactly_one_win,
    applications::sync_creates_keeps_ids_updates_and_removes,
    applications::sign_in_keys_can_swap_between_apps_in_one_sync,
    applications::sync_conflicts_and_dangling_references_change_nothing,
    app_sealing::connector_settings_are_sealed_under_the_master_key,
    app_sealing::sealed_settings_copied_to_another_app_do_not_open,
    app_assignments::is_assigned_through_everyone_users_and_groups,
    app_assignments::assignments_go_with_their_group_user_and_app,
    app_assignments::assigned_users_page_by_id,
    applications::concurrent_syncs_of_one_file_create_each_app_once,
    jobs::enqueue_coalesces_into_the_pending_job,
    jobs::pending_and_in_flight_coexist_but_never_two_pending,
    jobs::enqueue_marks_its_events_processed_atomically,
    jobs::claim_respects_next_run_at_order_and_limit,
    jobs::an_expired_lease_is_taken_over,
    jobs::retry_and_park_record_state_mapping_and_report,
    jobs::release_all_gives_back_unrun_attempts,
    jobs::retry_now_wakes_pending_and_optionally_parked,
    jobs::status_and_listing,
    remote::remote_mapping_upsert_forget_and_mapped_users,
    remote::attempts_query_by_object_app_result_and_time_then_prune,
    remote::leases_acquire_renew_expire_release,
    outbox::each_write_door_names_its_subject_and_actor,
    outbox::group_events_are_split_and_a_delete_carries_its_snapshot,
    outbox::deleting_a_user_announces_its_memberships_then_its_snapshot,
    outbox::pruning_keeps_unprocessed_and_recent_events,
);

/// Tests that open a second pool on the same database (two instances).
mod two_pools {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite_claimers_take_each_job_exactly_once() {
        super::harness::on_sqlite_at(super::job_races::two_pools_claim_each_job_exactly_once).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_claimers_take_each_job_exactly_once() {
        super::harness::on_postgres_at(super::job_races::two_pools_claim_each_job_exactly_once)
            .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres_retry_racing_an_enqueue_yields_to_the_new_plan() {
        super::harness::on_postgres_at(
            super::job_races::a_retry_racing_an_enqueue_yields_to_the_new_plan,
        )
        .await;
    }
}

/// Suites that start from an empty, unmigrated database (they migrate it
/// themselves, part of the way first).
mod unmigrated {
    mod sqlite {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn rows_of_the_first_shape_migrate() {
            super::super::harness::on_sqlite_with(
                false,
                super::super::outbox::rows_of_the_first_shape_migrate,
            )
            .await;
        }
    }
    mod postgres {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn rows_of_the_first_shape_migrate() {
            super::super::harness::on_postgres_with(
                false,
                super::super::outbox::rows_of_the_first_shape_migrate,
            )
            .await;
        }
    }
}
