# Every unit test case, registered one by one (a name missing from its
# file fails: see unit.h).
gs_unit_test(config defaults required_settings invalid_values insecure_urls
    file_and_precedence secret_files dump_redacts log_json_redacts log_text_format
    secret_equal remote_settings okta_private_key)
gs_unit_test(queue open_close_reopen open_bad_dir open_newer_schema
    enqueue_stores_jobs duplicate_delivery duplicate_uuid empty_event_id
    lease_empty lease_oldest_first lease_per_user lease_coalesces
    not_before_respected retry_attempts dead_letter complete_done
    release_lease recover_leases_server keep_leases_admin
    admin_alongside_server concurrent_enqueue concurrent_lease
    store_failure_recovers writable_ok remote_ids counts_and_age)
gs_unit_test(hook sample_group_add sample_group_remove sample_update_profile sample_deactivate
    sample_batch_mixed sample_okta_docs_session_start targets_either_order
    preview_null_target target_missing_or_empty group_filter ambiguous_targets
    all_handled_types changed_attributes oversized_ids_invalid bad_id_characters
    numbers_for_strings published_invalid non_object_events duplicate_uuid_two_jobs
    event_id_optional envelope_event_type hostile_empty_body hostile_not_json
    hostile_truncated hostile_trailing_garbage hostile_top_level_array
    hostile_events_not_array hostile_deep_nesting hostile_nul_byte
    hostile_invalid_utf8 body_not_terminated too_many_events error_never_echoes_body
    auth_equal auth_different auth_near_miss auth_null_presented auth_next_secret
    auth_empty_secret verification_plain verification_escaping verification_too_long
    verification_small_buffer)
gs_unit_test(sync decide_member_active decide_leavers decide_everything_else status_active
    precheck_unknown_user precheck_changed_attributes backoff_schedule)
