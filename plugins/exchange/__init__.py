"""Shared credit-information exchange for microloan lenders (小额贷款信息共享平台)."""
