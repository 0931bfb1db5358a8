-- Classification tags; every column tagged pii is masked by pii_mask unless it has its own policy.
CREATE TAG IF NOT EXISTS pii ALLOWED_VALUES 'ssn', 'email', 'phone', 'account_number', 'name'
  COMMENT = 'Personally identifiable information';
ALTER TAG pii SET MASKING POLICY pii_mask;

-- A column the PII scanner flags is either masked or carries a declared decision: who may read it in
-- clear ('visible_to:ROLE,ROLE,…'). The tag masks nothing itself; the coverage tests check that no
-- role outside the list can read the column's values and that every flagged column has a decision.
CREATE TAG IF NOT EXISTS pii_decision
  COMMENT = 'Declared exposure of a PII-flagged column that no masking policy covers';
