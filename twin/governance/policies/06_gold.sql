-- What protects the published gold tables. Every table with customer-level rows gets the row policy.
ALTER TABLE gold.customer_360 ADD ROW ACCESS POLICY advisor_filter ON (department);
ALTER TABLE gold.accounts ADD ROW ACCESS POLICY advisor_filter ON (department);
ALTER TABLE gold.portfolio_daily ADD ROW ACCESS POLICY advisor_filter ON (department);
ALTER TABLE gold.compliance_transactions ADD ROW ACCESS POLICY advisor_filter ON (department);
ALTER TABLE gold.risk_metrics ADD ROW ACCESS POLICY customer_entity_filter ON (entity_type, department);

ALTER TABLE gold.customer_360 MODIFY COLUMN ssn SET MASKING POLICY ssn_mask;
ALTER TABLE gold.customer_360 MODIFY COLUMN ssn SET TAG pii = 'ssn';
ALTER TABLE gold.customer_360 MODIFY COLUMN email SET TAG pii = 'email';
ALTER TABLE gold.customer_360 MODIFY COLUMN phone SET TAG pii = 'phone';
ALTER TABLE gold.accounts MODIFY COLUMN account_number SET TAG pii = 'account_number';
ALTER TABLE gold.accounts MODIFY COLUMN balance SET MASKING POLICY balance_mask;

-- PII decisions for flagged columns left in clear. Staff who serve or audit a customer need the name and
-- the identifiers to find the customer, the account or the trade; the row policies above already keep
-- every other role from reading these rows, so the decision names exactly the roles those policies admit.
ALTER TABLE gold.customer_360 MODIFY COLUMN name SET TAG pii_decision = 'visible_to:WEALTH_ADMIN,WEALTH_ADVISOR,RETAIL_TELLER,COMPLIANCE_AUDITOR';
ALTER TABLE gold.customer_360 MODIFY COLUMN customer_id SET TAG pii_decision = 'visible_to:WEALTH_ADMIN,WEALTH_ADVISOR,RETAIL_TELLER,COMPLIANCE_AUDITOR';
ALTER TABLE gold.accounts MODIFY COLUMN account_id SET TAG pii_decision = 'visible_to:WEALTH_ADMIN,WEALTH_ADVISOR,RETAIL_TELLER,COMPLIANCE_AUDITOR';
ALTER TABLE gold.accounts MODIFY COLUMN customer_id SET TAG pii_decision = 'visible_to:WEALTH_ADMIN,WEALTH_ADVISOR,RETAIL_TELLER,COMPLIANCE_AUDITOR';
ALTER TABLE gold.portfolio_daily MODIFY COLUMN account_id SET TAG pii_decision = 'visible_to:WEALTH_ADMIN,WEALTH_ADVISOR,RETAIL_TELLER,COMPLIANCE_AUDITOR';
ALTER TABLE gold.portfolio_daily MODIFY COLUMN customer_id SET TAG pii_decision = 'visible_to:WEALTH_ADMIN,WEALTH_ADVISOR,RETAIL_TELLER,COMPLIANCE_AUDITOR';
ALTER TABLE gold.compliance_transactions MODIFY COLUMN trade_id SET TAG pii_decision = 'visible_to:WEALTH_ADMIN,WEALTH_ADVISOR,RETAIL_TELLER,COMPLIANCE_AUDITOR';
ALTER TABLE gold.compliance_transactions MODIFY COLUMN account_id SET TAG pii_decision = 'visible_to:WEALTH_ADMIN,WEALTH_ADVISOR,RETAIL_TELLER,COMPLIANCE_AUDITOR';
ALTER TABLE gold.compliance_transactions MODIFY COLUMN customer_id SET TAG pii_decision = 'visible_to:WEALTH_ADMIN,WEALTH_ADVISOR,RETAIL_TELLER,COMPLIANCE_AUDITOR';
ALTER TABLE gold.risk_metrics MODIFY COLUMN risk_id SET TAG pii_decision = 'visible_to:WEALTH_ADMIN,WEALTH_ADVISOR,RETAIL_TELLER,COMPLIANCE_AUDITOR';
ALTER TABLE gold.risk_metrics MODIFY COLUMN entity_id SET TAG pii_decision = 'visible_to:WEALTH_ADMIN,WEALTH_ADVISOR,RETAIL_TELLER,COMPLIANCE_AUDITOR';
