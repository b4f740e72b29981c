# Every unit test case, registered one by one (a name missing from its
# file fails: see unit.h).
gs_unit_test(config defaults required_settings invalid_values insecure_urls
    file_and_precedence secret_files dump_redacts log_json_redacts log_text_format
    secret_equal)
