# Every unit test case, registered one by one (a name missing from its
# file fails: see unit.h).
gs_unit_test(config defaults required_settings invalid_values insecure_urls
    insecure_urls_hostile insecure_urls_loopback
    file_and_precedence secret_files dump_redacts log_json_redacts log_text_format
    secret_equal remote_settings okta_private_key empty_means_default every_secret_redacted
    deadline_normalised)
gs_unit_test(queue open_close_reopen open_bad_dir open_newer_schema
    enqueue_stores_jobs duplicate_delivery duplicate_uuid empty_event_id
    lease_empty lease_oldest_first lease_per_user lease_coalesces
    not_before_respected retry_attempts dead_letter complete_done
    release_lease recover_leases_server keep_leases_admin
    admin_alongside_server concurrent_enqueue concurrent_lease
    store_failure_recovers writable_ok remote_ids counts_and_age prune_old)
gs_unit_test(hook sample_group_add sample_group_remove sample_update_profile sample_deactivate
    sample_batch_mixed sample_okta_docs_session_start targets_either_order
    preview_null_target target_missing_or_empty group_filter ambiguous_targets
    all_handled_types changed_attributes oversized_ids_invalid bad_id_characters
    numbers_for_strings published_invalid non_object_events duplicate_uuid_two_jobs
    event_id_optional envelope_event_type hostile_empty_body hostile_not_json
    hostile_truncated hostile_trailing_garbage hostile_top_level_array
    hostile_events_not_array hostile_deep_nesting hostile_nul_byte
    hostile_invalid_utf8 hostile_strict_utf8 body_not_terminated too_many_events error_never_echoes_body
    auth_equal auth_different auth_near_miss auth_null_presented auth_next_secret
    auth_empty_secret verification_plain verification_escaping verification_too_long
    verification_small_buffer)
gs_unit_test(sync decide_member_active decide_leavers decide_everything_else status_active
    precheck_unknown_user precheck_changed_attributes backoff_schedule)
gs_unit_test(okta jwt_assertion_rs256 jwt_assertion_es256
    key_load_rules dpop_proof_claims dpop_proof_token_request link_one_header_several
    link_several_headers link_none link_refused rate_headers_parsed rate_headroom rate_429
    rate_date_skew error_body_samples error_body_echoes_credentials error_body_shapes classify_statuses result_messages
    new_rejects_bad_config get_user_ok get_user_not_found get_user_forbidden get_user_ssws_401
    get_user_retryable get_user_escapes_id get_user_no_answer set_profile_attr_body
    set_profile_attr_null set_profile_attr_invalid user_in_groups_paged user_in_groups_deleted
    list_group_users_paged list_group_users_foreign_next list_group_users_stop
    deferral_after_429 deferral_headroom deferral_until_retry_after token_cached
    token_request_form token_refresh_on_expiry token_refresh_failure_keeps_old
    token_401_refresh token_endpoint_error token_concurrent_refresh dpop_auto_handshake
    dpop_api_nonce_retry json_parse_bounded)
gs_unit_test(template load_hooks_rest load_bad_json load_missing_url load_bad_method
    load_unknown_placeholder load_bad_success load_bad_id load_too_large load_missing_file
    load_other_keys url_escaping url_dot_segments_and_types url_host_from_value_refused
    header_rendering header_injection_refused body_exact_types body_interpolation
    body_hostile_roundtrip missing_values_named absent_profile_null profile_attrs
    status_and_id_accessors)
gs_unit_test(remote json_server_lifecycle json_server_hostile_values auth_none auth_basic
    auth_bearer auth_header auth_oauth2_cached auth_oauth2_401_refetch auth_oauth2_token_refused
    auth_oauth2_threads retry_after_503 permanent_400 create_answers create_cut_without_find find_statuses
    update_delete_statuses transport_failure secrets_not_in_errors new_errors find_optional
    fingerprint uses_any)
gs_unit_test(metrics render_format counters_counted event_types remote_status_classes
    histogram_cumulative label_escaping gauges_rendered gauges_absent out_of_range_ignored
    concurrent_increments)
gs_unit_test(queue_admin list_by_state list_by_user list_limit show retry_dead retry_backoff
    retry_refused retry_all_dead drop drop_leased_refused)
gs_unit_test(conn_guard deadlines_only pressure_order shed_not_counted)
gs_unit_test(queue_durable intake_syncs_wal)
gs_unit_test(netaddr list_check in_list client_untrusted_peer client_behind_proxies)
gs_unit_test(queue_wait backoff_holds_new_jobs next_due)
gs_unit_test(base64 std_vectors b64url_vectors b64url_small_buffer std_small_buffer)
gs_unit_test(url hostile_refused insecure_allowed_keeps_rules loopback_accepted
    parts_normalised origins)
