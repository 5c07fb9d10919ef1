/* fuzz_campaign.c - libFuzzer harness for the campaign loader: YAML text
 * through ydoc_parse() and campaign_load_text() (engine/campaign.c,
 * engine/ydoc.c).
 *
 * Invariants checked beyond "no crash, leak or UB": a loaded campaign has an
 * id and at least its file name; a failed load leaves at least one
 * diagnostic; every step of a loaded campaign has a name. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "campaign.h"
#include "ydoc.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    cc_diags diags = {0};
    diags.limit = 50;
    cc_campaign c;
    int is_segment = 0;
    cc_code rc = campaign_load_text("rules/fuzz.yaml", (const char *)data, size, &c, &is_segment, &diags);
    if (rc == CC_OK && !is_segment) {
        if (!c.id || !c.file) {
            fprintf(stderr, "fuzz_campaign: a loaded campaign has no id or file\n");
            abort();
        }
        for (size_t i = 0; i < c.n_steps; i++)
            if (!c.steps[i].name) {
                fprintf(stderr, "fuzz_campaign: step %zu has no name\n", i);
                abort();
            }
        campaign_free(&c);
    } else if (rc != CC_OK && diags.count == 0) {
        fprintf(stderr, "fuzz_campaign: load failed (%s) without a diagnostic\n", cc_strerror(rc));
        abort();
    }
    cc_diags_free(&diags);
    return 0;
}
