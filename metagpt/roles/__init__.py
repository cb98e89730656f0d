"""Roles: the public `Role` base and the roles of the software company."""

from metagpt.roles.architect import Architect
from metagpt.roles.customer_service import CustomerService
from metagpt.roles.di.data_interpreter import DataInterpreter
from metagpt.roles.di.role_zero import RoleZero
from metagpt.roles.engineer import Engineer
from metagpt.roles.product_manager import ProductManager
from metagpt.roles.project_manager import ProjectManager
from metagpt.roles.qa_engineer import QaEngineer
from metagpt.roles.role import Role, RoleReactMode
from metagpt.roles.sales import Sales

__all__ = [
    "Architect",
    "CustomerService",
    "DataInterpreter",
    "Engineer",
    "ProductManager",
    "ProjectManager",
    "QaEngineer",
    "Role",
    "RoleReactMode",
    "RoleZero",
    "Sales",
]
