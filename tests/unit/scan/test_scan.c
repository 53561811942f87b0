/* SPDX-License-Identifier: MIT */
/* The scan unit test binary: runs the groups of every test_*.c file of this directory. */
#include "test_scan.h"

int main(void)
{
    int failed = 0;
    failed += _cmocka_run_group_tests("scan_normalize", scan_normalize_tests,
                                      scan_normalize_ntests, NULL, NULL);
    failed += _cmocka_run_group_tests("scan_lexicon", scan_lexicon_tests, scan_lexicon_ntests,
                                      NULL, NULL);
    failed += _cmocka_run_group_tests("scan_match", scan_match_tests, scan_match_ntests, NULL,
                                      NULL);
    failed += _cmocka_run_group_tests("scan_pii", scan_pii_tests, scan_pii_ntests, NULL, NULL);
    failed += _cmocka_run_group_tests("scan_threads", scan_threads_tests, scan_threads_ntests,
                                      NULL, NULL);
    failed += _cmocka_run_group_tests("scan_prefilter", scan_prefilter_tests,
                                      scan_prefilter_ntests, NULL, NULL);
    failed +=
        _cmocka_run_group_tests("scan_union", scan_union_tests, scan_union_ntests, NULL, NULL);
    failed += _cmocka_run_group_tests("scan_view", scan_view_tests, scan_view_ntests, NULL, NULL);
    return failed ? 1 : 0;
}
