-- Classification tags; every column tagged pii is masked by pii_mask unless it has its own policy.
CREATE TAG IF NOT EXISTS pii ALLOWED_VALUES 'ssn', 'email', 'phone', 'account_number', 'name'
  COMMENT = 'Personally identifiable information';
ALTER TAG pii SET MASKING POLICY pii_mask;
