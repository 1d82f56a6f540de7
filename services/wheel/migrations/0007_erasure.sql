-- Leads whose person was erased (intake.person.erased): their name,
-- company, email and domain are blank and the reasons their routing rule
-- gave are gone. The erasure and the lead's creation arrive on two
-- consumers with no order between them, so a lead created after its
-- erasure was applied is found here and stored blank too.
CREATE TABLE wheel_erased_leads (
    lead_id TEXT PRIMARY KEY,
    erased_at_ms BIGINT NOT NULL
);
