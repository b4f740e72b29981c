# Every unit test case, registered one by one (a name missing from its
# file fails: see unit.h).
gs_unit_test(config defaults required_settings invalid_values insecure_urls
    file_and_precedence secret_files dump_redacts log_json_redacts log_text_format
    secret_equal)
gs_unit_test(queue open_close_reopen open_bad_dir open_newer_schema
    enqueue_stores_jobs duplicate_delivery duplicate_uuid empty_event_id
    lease_empty lease_oldest_first lease_per_user lease_coalesces
    not_before_respected retry_attempts dead_letter complete_done
    release_lease recover_leases_server keep_leases_admin
    admin_alongside_server concurrent_enqueue concurrent_lease
    store_failure_recovers writable_ok remote_ids counts_and_age)
